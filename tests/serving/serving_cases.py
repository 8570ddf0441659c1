"""Constants shared by the serving tests (a uniquely named module: tests/ folders are not packages)."""

SECRET_PROMPT = "What is the secret word?"
SECRET_ANSWER = "The secret word is teriyaki volcano."
