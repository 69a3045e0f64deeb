"""Detection, week 3: localisation and landmarks, sliding windows and their convolutional form, proposals."""
