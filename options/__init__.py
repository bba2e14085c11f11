"""Option classes: BaseOptions, then TestOptions (inference) and TrainOptions."""
