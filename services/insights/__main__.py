from services.insights.main import main

main()
