from hibachi_cli import main

main()
