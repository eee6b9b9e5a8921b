"""The geometry classifier: emotions from the Face Landmarker's blendshapes, head pose and mesh."""
