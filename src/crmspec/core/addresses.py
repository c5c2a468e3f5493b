"""What a usable contact address looks like: shared by the data checks (which count
malformed ones) and the channels (which refuse to send to them)."""

MOBILE_RE = r"^1[3-9][0-9]{9}$"  # a mainland China mobile number, 11 digits
EMAIL_RE = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
