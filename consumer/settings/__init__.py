"""Every setting of the bridge, declared once (`model.py` composes the groups of fields, one
file per concern), with the small vocabularies the settings need: nothing here imports a
module above it, so the Pulumi program loads the settings without the bridge's libraries."""
