"""Analyses of generated and augmented image sets: FID (`fid`) and CLIP Synset Entropy (`cse`).

`sets` builds the image sets both analyses compare (the original training subset, MixUp images,
compositions of a trained ChimeraMix / HydraMix generator); `store` keeps their results under
<results>/analysis/ where `report` finds them; `wordnet` makes WordNet 3.0 available to nltk.
Everything here imports its heavy dependencies (torch-fidelity, open_clip, nltk) lazily.
"""
