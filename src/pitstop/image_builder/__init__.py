"""The baked GPU image: AWSTOE components, the Image Builder pipeline, CloudFormation, builds.

``options`` holds what an image is made of (parent image, pinned pitstop and DRfC sources,
names) and rejects bad input; ``render`` turns settings and options into the documents
(component YAML, recipe/infrastructure/distribution JSON, ``cloudformation.yaml``);
``awstoe`` checks component documents against the AWSTOE shape; ``build`` drives the
``imagebuilder`` API (idempotent create-or-update, start, wait) through a client and a
clock passed in. Printing and exit codes are left to ``pitstop.cli.image``.
"""
