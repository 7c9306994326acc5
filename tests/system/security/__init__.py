"""Security suite: authentication, isolation between partners, secrets, outbound URLs, limits."""
