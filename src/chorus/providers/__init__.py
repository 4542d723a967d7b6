"""Wire dialects and the model catalog: the only code that talks to model APIs."""
