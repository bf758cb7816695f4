"""Getting the media: HTTP(S) files (`http`), YouTube and other sites through yt-dlp (`ytdlp`), the stage."""
