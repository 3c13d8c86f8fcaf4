"""The data stage: recordings -> a verified dataset folder (see DESIGN.md, "Dataset folder")."""
