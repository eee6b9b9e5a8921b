"""The pipeline: an image or video -> faces -> analyses and emotions (``predict``), and what is made
from them: expression edits of whole photos (``editing``), animations (``animation``), the Live
Link Face and 3D mesh exports (``exports``) and the cartoon avatar (``avatar``).

It sits above the plugins: it takes the detector, analyzers, classifiers and editors it is given
and imports none of them.
"""
