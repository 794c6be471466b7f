from dbagents.entry import main

main()
