"""The delay models: point-in-time features, preprocessing, training, tuning, evaluation, the
registry, batch prediction and the training report."""
