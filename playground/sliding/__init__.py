"""The Sliding windows page's UI, by section: the classifier (one click or a run), the image to search, the loop
against the convolutional form and the converted network, MTCNN's P-Net, region proposals."""
