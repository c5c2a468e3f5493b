from crmspec.cli import main

main()
