from dbagents.cli import main

main()
