"""What steers a render besides the prompts: reference pictures (and later LoRAs, styles)."""
