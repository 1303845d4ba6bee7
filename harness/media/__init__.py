"""Media loading shared by the data layer and the model adapters (images, video frames)."""
