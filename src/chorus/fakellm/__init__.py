"""`chorus fake-llm`: a stand-alone fake upstream speaking the providers' real wire formats."""
