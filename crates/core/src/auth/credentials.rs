//! The long-lived credentials of an account: personal access tokens, API keys (and their
//! exchange for API-key sessions), the client secret and the OAuth2 access tokens it
//! obtains. Minting checks scopes against the owner's permissions; every change is audited.

use super::*;

impl Authenticator {
    /// Validates requested scopes: each must be a permission the owner holds now.
    /// `None` (no scopes asked) means the owner's full permissions.
    pub fn check_scopes(
        &self,
        owner: &PermissionSet,
        requested: Option<Vec<String>>,
    ) -> Result<Option<Vec<String>>> {
        let Some(requested) = requested else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(requested.len());
        for raw in requested {
            let p = Permission::parse(&raw)?;
            if !owner.covers(&p) {
                return Err(Error::ScopeNotHeld(raw));
            }
            if !out.contains(&raw) {
                out.push(raw);
            }
        }
        Ok(Some(out))
    }

    pub(super) fn check_name(name: &str) -> Result<()> {
        if name.trim().is_empty()
            || name.chars().count() > 100
            || name.chars().any(char::is_control)
        {
            return Err(Error::Invalid {
                field: "name",
                reason: "use 1 to 100 printable characters",
            });
        }
        Ok(())
    }

    /// Mints a personal access token for the caller. The value is returned once.
    pub async fn create_pat(
        &self,
        owner: &User,
        permissions: &PermissionSet,
        name: &str,
        scopes: Option<Vec<String>>,
        lifetime: Option<Duration>,
    ) -> Result<(PersonalToken, Token)> {
        Self::check_name(name)?;
        let scopes = self.check_scopes(permissions, scopes)?;
        let t = self.inner.tokens;
        let lifetime = lifetime.unwrap_or(t.pat_default_lifetime);
        if lifetime.is_zero() || lifetime > t.pat_max_lifetime {
            return Err(Error::Invalid {
                field: "expires_in",
                reason: "must be positive and at most tokens.pat_max_lifetime",
            });
        }
        let now = Timestamp::now();
        let token = Token::generate(TokenKind::PersonalAccess);
        let pat = PersonalToken {
            id: new_public_id("pat_"),
            user_id: owner.id,
            name: name.trim().to_owned(),
            scopes,
            created_at: now,
            expires_at: now.plus(lifetime),
            last_used_at: None,
            prefix: Some(pat_prefix(&token)),
        };
        self.store().create_pat(&pat, &token.digest()).await?;
        self.audit(
            AuditEvent::new("token_created", "success")
                .user(owner)
                .detail(format!("token={}", pat.id)),
        )
        .await;
        Ok((pat, token))
    }

    /// The owner's unrevoked personal access tokens, newest first (expired ones included).
    pub async fn list_pats(&self, owner: &User) -> Result<Vec<PersonalToken>> {
        Ok(self.store().list_pats(owner.id).await?)
    }

    /// Revokes one of the owner's personal access tokens, with effect on this instance at
    /// once, and records it. `false` when the owner has no such unrevoked token.
    pub async fn revoke_pat(&self, owner: &User, id: &str) -> Result<bool> {
        let event = AuditEvent::new("token_revoked", "success")
            .user(owner)
            .detail(format!("token={id}"));
        self.revoke(
            self.store().revoke_pat(owner.id, id, Timestamp::now()),
            event,
        )
        .await
    }

    /// Revokes a token and issues a new one with the same name, scopes and lifetime.
    pub async fn regenerate_pat(
        &self,
        owner: &User,
        id: &str,
    ) -> Result<Option<(PersonalToken, Token)>> {
        let Some(old) = self
            .store()
            .list_pats(owner.id)
            .await?
            .into_iter()
            .find(|p| p.id == id)
        else {
            return Ok(None);
        };
        let lifetime = Duration::from_secs(
            u64::try_from(old.expires_at.unix() - old.created_at.unix()).unwrap_or(0),
        )
        .min(self.inner.tokens.pat_max_lifetime)
        .max(Duration::from_secs(1));
        let now = Timestamp::now();
        let token = Token::generate(TokenKind::PersonalAccess);
        let new = PersonalToken {
            id: new_public_id("pat_"),
            created_at: now,
            expires_at: now.plus(lifetime),
            last_used_at: None,
            prefix: Some(pat_prefix(&token)),
            ..old
        };
        self.forget_cached();
        if !self
            .store()
            .replace_pat(owner.id, id, &new, &token.digest(), now)
            .await?
        {
            return Ok(None);
        }
        self.forget_cached();
        let detail = format!("token={id} new={}", new.id);
        self.audit(
            AuditEvent::new("token_regenerated", "success")
                .user(owner)
                .detail(detail),
        )
        .await;
        Ok(Some((new, token)))
    }

    /// Creates an API key/secret pair; the secret is returned once.
    pub async fn create_api_key(
        &self,
        owner: &User,
        permissions: &PermissionSet,
        name: &str,
        scopes: Option<Vec<String>>,
    ) -> Result<(ApiKey, Token)> {
        Self::check_name(name)?;
        let scopes = self.check_scopes(permissions, scopes)?;
        let key = ApiKey {
            id: new_public_id("key_"),
            user_id: owner.id,
            name: name.trim().to_owned(),
            scopes,
            created_at: Timestamp::now(),
            last_used_at: None,
            disabled_at: None,
        };
        let secret = Token::generate(TokenKind::ApiSecret);
        self.store().create_api_key(&key, &secret.digest()).await?;
        self.audit(
            AuditEvent::new("api_key_created", "success")
                .user(owner)
                .detail(format!("key={}", key.id)),
        )
        .await;
        Ok((key, secret))
    }

    /// The owner's unrevoked API keys, newest first (never their secrets).
    pub async fn list_api_keys(&self, owner: &User) -> Result<Vec<ApiKey>> {
        Ok(self.store().list_api_keys(owner.id).await?)
    }

    /// Deletes a key and ends every session opened with it.
    pub async fn delete_api_key(&self, owner: &User, id: &str) -> Result<bool> {
        let event = AuditEvent::new("api_key_deleted", "success")
            .user(owner)
            .detail(format!("key={id}"));
        self.revoke(
            self.store().delete_api_key(owner.id, id, Timestamp::now()),
            event,
        )
        .await
    }

    /// Disables one of the owner's keys (ending every session opened with it, with effect
    /// on this instance at once; its exchange is refused until it is enabled) or enables
    /// it again, and records it. `false` when the owner has no such key.
    pub async fn set_api_key_disabled(
        &self,
        owner: &User,
        id: &str,
        disabled: bool,
    ) -> Result<bool> {
        let name = if disabled {
            "api_key_disabled"
        } else {
            "api_key_enabled"
        };
        let event = AuditEvent::new(name, "success")
            .user(owner)
            .detail(format!("key={id}"));
        self.revoke(
            self.store()
                .set_api_key_disabled(owner.id, id, disabled, Timestamp::now()),
            event,
        )
        .await
    }

    /// Exchanges an API key and secret for an API-key session token
    /// (`tokens.api_key_session_lifetime`). `None` for any mismatch, alike.
    pub async fn login_with_api_key(
        &self,
        key_id: &str,
        secret: &str,
        client: ClientInfo,
    ) -> Result<LoginOutcome> {
        if key_id.is_empty() || key_id.len() > 64 {
            return Ok(LoginOutcome::Failed);
        }
        let event = |outcome: &str| {
            AuditEvent::new("login", outcome)
                .method("key")
                .client(client.ip.as_deref(), client.user_agent.as_deref())
                .detail(format!(
                    "key={}",
                    audit::loggable(
                        key_id,
                        key_id.starts_with("key_")
                            && key_id.len() <= 40
                            && key_id
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    )
                ))
        };
        if let Some(r) = self.admit_address(client.ip.as_deref()).await? {
            self.audit(event("throttled")).await;
            return Ok(LoginOutcome::Throttled(r));
        }
        let parsed = token::parse(secret)
            .ok()
            .filter(|p| p.kind == TokenKind::ApiSecret);
        let record = self.store().api_key(key_id).await?;
        let ok = matches!((&parsed, &record), (Some(p), Some(r))
            if constant_time_eq(&r.secret_digest, &p.digest)
                && !r.user.disabled
                && r.key.disabled_at.is_none());
        let (true, Some(record)) = (ok, record) else {
            self.failed(client.ip.as_deref()).await;
            self.audit(event("failure")).await;
            return Ok(LoginOutcome::Failed);
        };
        self.audit(event("success").user(&record.user)).await;
        let lifetime = self.inner.tokens.api_key_session_lifetime;
        let key_id = record.key.id.clone();
        let scopes = record.key.scopes.clone();
        let (identity, token) = self
            .open_session(NewSession {
                user: record.user,
                kind: SessionKind::ApiKey,
                api_key_id: Some(key_id),
                scopes,
                lifetime,
                idle: None,
                client,
            })
            .await?;
        Ok(LoginOutcome::Success(Box::new(identity), token))
    }

    /// When the user's current client secret expires; `None` when there is none (or it
    /// expired). Never generates one, never decrypts one.
    pub async fn client_secret_expiry(&self, user: &User) -> Result<Option<Timestamp>> {
        Ok(self
            .store()
            .client_secret(user.id)
            .await?
            .map(|s| s.expires_at)
            .filter(|at| Timestamp::now() < *at))
    }

    /// The user's client secret, generated when it has none or the old one expired.
    pub async fn client_secret(&self, user: &User) -> Result<ClientSecret> {
        if let Some(stored) = self.store().client_secret(user.id).await?
            && Timestamp::now() < stored.expires_at
        {
            let plain = self
                .inner
                .client_secrets
                .open(&stored.ciphertext, &user.id.0.to_be_bytes())
                .ok_or_else(|| {
                    Error::Internal(
                        "a client secret does not decrypt with the current server key".into(),
                    )
                })?;
            let secret = String::from_utf8(plain)
                .map_err(|_| Error::Internal("client secret is not UTF-8".into()))?;
            return Ok(ClientSecret {
                secret,
                created_at: stored.created_at,
                expires_at: stored.expires_at,
            });
        }
        self.rotate_client_secret(user).await
    }

    /// Records that `session`'s cookie was just sealed again under the key that seals now
    /// (written off the request path), which `tessera key retire` reads to know whether
    /// the session still needs an older key.
    pub fn record_cookie_resealed(&self, session: &crate::session::Session) {
        let store = Arc::clone(self.store());
        let id = session.id.clone();
        tokio::spawn(async move {
            if let Err(e) = store.mark_cookie_resealed(&id, Timestamp::now()).await {
                tracing::warn!(error = %e, "could not record a resealed session cookie");
            }
        });
    }

    /// Seals again, under the key that seals now, every client secret an older key of the
    /// ring sealed, so that the older key can be retired without losing them. Returns how
    /// many were sealed again; a secret no key of the ring opens is left as it is (and
    /// counted by [`Self::unreadable_client_secrets`]).
    pub async fn reseal_client_secrets(&self) -> Result<u64> {
        let mut resealed = 0;
        for stored in self.store().client_secrets().await? {
            let context = stored.user_id.0.to_be_bytes();
            let Some(opened) = self
                .inner
                .client_secrets
                .open_checked(&stored.ciphertext, &context)
            else {
                continue;
            };
            if opened.current {
                continue;
            }
            let sealed = self.inner.client_secrets.seal(&opened.plaintext, &context);
            if self
                .store()
                .reseal_client_secret(stored.user_id, &stored.ciphertext, &sealed)
                .await?
            {
                resealed += 1;
            }
        }
        if resealed > 0 {
            tracing::info!(
                resealed,
                "client secrets sealed again under the current key"
            );
        }
        Ok(resealed)
    }

    /// How many stored client secrets no key of the ring opens (their owners would have
    /// to rotate them to see them again; they still authenticate).
    pub async fn unreadable_client_secrets(&self) -> Result<u64> {
        let mut unreadable = 0;
        for stored in self.store().client_secrets().await? {
            if self
                .inner
                .client_secrets
                .open(&stored.ciphertext, &stored.user_id.0.to_be_bytes())
                .is_none()
            {
                unreadable += 1;
            }
        }
        Ok(unreadable)
    }

    /// Replaces the user's client secret. Access tokens already issued keep their lifetime.
    pub async fn rotate_client_secret(&self, user: &User) -> Result<ClientSecret> {
        let token = Token::generate(TokenKind::ClientSecret);
        let now = Timestamp::now();
        let stored = StoredClientSecret {
            user_id: user.id,
            ciphertext: self
                .inner
                .client_secrets
                .seal(token.expose().as_bytes(), &user.id.0.to_be_bytes()),
            created_at: now,
            expires_at: now.plus(self.inner.tokens.client_secret_lifetime),
        };
        self.store()
            .set_client_secret(&stored, &token.digest())
            .await?;
        self.audit(AuditEvent::new("client_secret_rotated", "success").user(user))
            .await;
        Ok(ClientSecret {
            secret: token.expose().to_owned(),
            created_at: now,
            expires_at: stored.expires_at,
        })
    }

    /// Authenticates `Authorization: Secret <s>`: the account whose current client secret
    /// this is.
    pub async fn verify_client_secret(
        &self,
        presented: &str,
    ) -> std::result::Result<(User, PermissionSet), AuthFailure> {
        let parsed = token::parse(presented).map_err(|_| AuthFailure::Invalid)?;
        if parsed.kind != TokenKind::ClientSecret {
            return Err(AuthFailure::Invalid);
        }
        let Some((user, expires_at)) = self.store().client_secret_owner(&parsed.digest).await?
        else {
            return Err(AuthFailure::Invalid);
        };
        if user.disabled {
            return Err(AuthFailure::Invalid);
        }
        if Timestamp::now() >= expires_at {
            return Err(AuthFailure::Expired);
        }
        let permissions = self.store().permissions_of(user.id).await?;
        Ok((user, permissions))
    }

    /// OAuth2 client authentication (RFC 6749 §2.3.1): client id = login, client secret.
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        secret: &str,
        ip: Option<&str>,
    ) -> std::result::Result<(User, PermissionSet), AuthFailure> {
        let subject = Login::key_of(client_id);
        match self.admit_address(ip).await {
            Ok(Some(r)) => {
                let e = AuditEvent::new("login", "throttled")
                    .attempted_login(client_id)
                    .method("client_credentials");
                self.audit(e.client(ip, None)).await;
                return Err(AuthFailure::Throttled(r));
            }
            Ok(None) => {}
            Err(Error::Store(e)) => return Err(AuthFailure::Unavailable(e)),
            Err(e) => {
                return Err(AuthFailure::Unavailable(StoreError::Unavailable(
                    e.to_string(),
                )));
            }
        }
        let verified = self.verify_client_secret(secret).await;
        let (user, permissions) = match verified {
            Ok(found) if subject == Login::key_of(&found.0.login) => found,
            Err(AuthFailure::Unavailable(e)) => return Err(AuthFailure::Unavailable(e)),
            _ => {
                self.failed(ip).await;
                let e = AuditEvent::new("login", "failure")
                    .attempted_login(client_id)
                    .method("client_credentials");
                self.audit(e.client(ip, None)).await;
                return Err(AuthFailure::Invalid);
            }
        };
        Ok((user, permissions))
    }

    /// Issues an OAuth2 client-credentials access token.
    pub async fn issue_access_token(
        &self,
        user: User,
        permissions: &PermissionSet,
        scopes: Option<Vec<String>>,
        lifetime: Option<Duration>,
        client: ClientInfo,
    ) -> Result<(Identity, Token)> {
        let scopes = self.check_scopes(permissions, scopes)?;
        let lifetime = lifetime.unwrap_or(self.inner.tokens.access_token_default_lifetime);
        if !(ACCESS_TOKEN_MIN..=ACCESS_TOKEN_MAX).contains(&lifetime) {
            return Err(Error::Invalid {
                field: "expires_in",
                reason: "must be between 60 seconds and one year",
            });
        }
        let issued = self
            .open_session(NewSession {
                user,
                kind: SessionKind::AccessToken,
                api_key_id: None,
                scopes,
                lifetime,
                idle: None,
                client,
            })
            .await?;
        let e = AuditEvent::new("access_token_issued", "success")
            .user(&issued.0.user)
            .method("client_credentials");
        self.audit(e.detail(format!("session={}", issued.0.session.id)))
            .await;

        Ok(issued)
    }
}

pub(super) fn pat_as_session(pat: &PersonalToken) -> Session {
    Session {
        id: pat.id.clone(),
        kind: SessionKind::PersonalAccess,
        user_id: pat.user_id,
        api_key_id: None,
        scopes: pat.scopes.clone(),
        created_at: pat.created_at,
        last_seen_at: pat.last_used_at.unwrap_or(pat.created_at),
        idle_expires_at: None,
        expires_at: pat.expires_at,
        ip: None,
        user_agent: None,
    }
}

/// The first characters of a personal token, kept to recognise it by.
fn pat_prefix(token: &Token) -> String {
    token
        .expose()
        .chars()
        .take(crate::credential::PAT_PREFIX_LEN)
        .collect()
}
