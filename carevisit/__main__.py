from carevisit.cli import main

main()
