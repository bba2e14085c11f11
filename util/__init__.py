"""Small helpers shared by the models, data, scripts and apps."""
