-- wrk: the axum-login peer's cookie, taken from the environment.
wrk.headers["Cookie"] = os.getenv("PEER_COOKIE")
