"""HTTP pieces every service's API shares: health, bearer auth, an embeddable server."""
