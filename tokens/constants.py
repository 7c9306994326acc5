"""Constants of real-time token authorization (tokens.md 3.2 and 6)."""

# Default of settings.OCPI_REALTIME_AUTH_TIMEOUT_SECONDS: how long our CPO waits for a partner eMSP's
# answer to POST {uid}/authorize while the driver stands at the charge point.
REALTIME_AUTH_TIMEOUT_SECONDS = 2.0

# AuthorizationDecision.source: who decided at the charge point.
SOURCE_LOCAL = "LOCAL"  # our cached token, without asking (whitelist ALWAYS; or nobody to ask)
SOURCE_REALTIME = "REALTIME"  # the owning eMSP's answer
SOURCE_FALLBACK = "FALLBACK"  # the eMSP gave no usable answer: the whitelist rule decided

# AuthorizationDecision.status besides the AllowedType values.
STATUS_UNKNOWN = "UNKNOWN"  # the eMSP does not know the token (404/2004), or there is no eMSP to ask
STATUS_TIMEOUT = "TIMEOUT"  # the eMSP could not be asked or gave no usable answer in time (denied)
