"""Model families voicetune can import, train and export (VITS/Piper/MMS today)."""
