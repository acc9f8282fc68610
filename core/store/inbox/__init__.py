"""The inbox side of the store: raw messages, rejections, and turning mapped rows into versions."""
