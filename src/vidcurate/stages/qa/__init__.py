"""Question-answer generation over object tracks: templates (`qa.template`) and an LLM (`qa.llm`)."""
