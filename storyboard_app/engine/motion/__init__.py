"""StoryDiffusion's Semantic Motion Predictor: panels to a path through CLIP image space.

``encoder`` turns images into CLIP image embeddings (the space IP-Adapter
reads), ``predictor`` predicts the embeddings of the frames between two
panels, and ``training`` fits the predictor on clips from ordinary videos.
"""
