//! The one token format of every bearer credential and API secret.
//!
//! `<prefix>_<32 random base62 characters><6 base62 characters of CRC32>`, as GitHub's
//! tokens: the prefix names the kind (so secret scanners can recognise a leaked token and
//! the server knows where to look it up), 32 base62 characters carry 190 bits of
//! randomness, and the checksum over everything before it lets a mistyped or truncated
//! token be refused without touching the database. Only the SHA-256 digest of the whole
//! token is ever stored.

use std::fmt;

use crate::secret::{digest, fill_random};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_CHARS: usize = 32;
const CHECKSUM_CHARS: usize = 6;
const PREFIX_LEN: usize = 4; // "tss_"

/// What a token is for, told by its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// The bearer carrier of a password session (login).
    Session,
    /// A personal access token, presented as a bearer token.
    PersonalAccess,
    /// The bearer token of a session opened by an API key/secret exchange.
    ApiKeySession,
    /// An OAuth2 client-credentials access token.
    AccessToken,
    /// The secret half of an API key pair.
    ApiSecret,
    /// The account's client secret (`Authorization: Secret`, OAuth2 client credentials).
    ClientSecret,
    /// A one-time set-password link (an invitation or a reset link).
    Invitation,
}

impl TokenKind {
    /// Every kind.
    pub const ALL: [TokenKind; 7] = [
        Self::Session,
        Self::PersonalAccess,
        Self::ApiKeySession,
        Self::AccessToken,
        Self::ApiSecret,
        Self::ClientSecret,
        Self::Invitation,
    ];

    /// The four characters that start every token of this kind (`tss_`, `tsp_`, ...).
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::Session => "tss_",
            Self::PersonalAccess => "tsp_",
            Self::ApiKeySession => "tsk_",
            Self::AccessToken => "tsa_",
            Self::ApiSecret => "tsx_",
            Self::ClientSecret => "tsc_",
            Self::Invitation => "tsi_",
        }
    }

    /// Kinds that a client may present as `Authorization: Bearer`.
    pub const fn is_bearer(self) -> bool {
        matches!(
            self,
            Self::Session | Self::PersonalAccess | Self::ApiKeySession | Self::AccessToken
        )
    }

    fn from_prefix(p: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.prefix() == p)
    }
}

/// Total length of every token.
pub const TOKEN_LEN: usize = PREFIX_LEN + RANDOM_CHARS + CHECKSUM_CHARS;

/// A freshly minted token. `Debug` hides the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    kind: TokenKind,
    value: String,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({}[redacted])", self.kind.prefix())
    }
}

impl Token {
    /// Mints a new random token of `kind`.
    pub fn generate(kind: TokenKind) -> Self {
        let mut value = String::with_capacity(TOKEN_LEN);
        value.push_str(kind.prefix());
        random_base62(&mut value, RANDOM_CHARS);
        let crc = crc32fast::hash(value.as_bytes());
        push_checksum(&mut value, crc);
        Self { kind, value }
    }

    /// What the token is for.
    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    /// The token as the client must send it. Show it once, never log it.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// The stored form.
    pub fn digest(&self) -> [u8; 32] {
        digest(self.value.as_bytes())
    }
}

/// A presented token that is well formed and whose checksum is right.
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedToken {
    /// The kind its prefix names.
    pub kind: TokenKind,
    /// The SHA-256 of the whole token: what it is stored and looked up by.
    pub digest: [u8; 32],
}

impl fmt::Debug for ParsedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ParsedToken({:?})", self.kind)
    }
}

/// Why a presented string is not a usable token ([`parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Wrong length, unknown prefix, or a character outside base62.
    #[error("not a Tessera token")]
    Malformed,
    /// Well formed, but the checksum does not match (a mistyped or altered token).
    #[error("token checksum mismatch")]
    Checksum,
}

/// Checks a presented token's shape and checksum; no database access.
pub fn parse(presented: &str) -> Result<ParsedToken, TokenError> {
    if presented.len() != TOKEN_LEN || !presented.is_char_boundary(PREFIX_LEN) {
        return Err(TokenError::Malformed);
    }
    let (prefix, rest) = presented.split_at(PREFIX_LEN);
    let kind = TokenKind::from_prefix(prefix).ok_or(TokenError::Malformed)?;
    if !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(TokenError::Malformed);
    }
    let (body, checksum) = presented.split_at(TOKEN_LEN - CHECKSUM_CHARS);
    let mut expected = String::with_capacity(CHECKSUM_CHARS);
    push_checksum(&mut expected, crc32fast::hash(body.as_bytes()));
    if expected != checksum {
        return Err(TokenError::Checksum);
    }
    Ok(ParsedToken {
        kind,
        digest: digest(presented.as_bytes()),
    })
}

/// Appends `n` uniformly random base62 characters.
pub fn random_base62(out: &mut String, n: usize) {
    // 62 * 4 = 248: bytes >= 248 are dropped so that every character is equally likely.
    let mut buf = [0u8; 64];
    let mut pushed = 0;
    while pushed < n {
        fill_random(&mut buf);
        for &b in &buf {
            if b < 248 && pushed < n {
                out.push(BASE62[(b % 62) as usize] as char);
                pushed += 1;
            }
        }
    }
}

fn push_checksum(out: &mut String, crc: u32) {
    let mut digits = [b'0'; CHECKSUM_CHARS];
    let mut v = crc;
    for d in digits.iter_mut().rev() {
        *d = BASE62[(v % 62) as usize];
        v /= 62;
    }
    out.extend(digits.iter().map(|&b| b as char));
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn generated_tokens_parse_back() {
        for kind in TokenKind::ALL {
            let t = Token::generate(kind);
            assert!(t.expose().starts_with(kind.prefix()));
            assert_eq!(t.expose().len(), TOKEN_LEN);
            let parsed = parse(t.expose()).unwrap();
            assert_eq!(parsed.kind, kind);
            assert_eq!(parsed.digest, t.digest());
        }
        assert_ne!(
            Token::generate(TokenKind::Session),
            Token::generate(TokenKind::Session)
        );
        assert_eq!(
            format!("{:?}", Token::generate(TokenKind::Session)),
            "Token(tss_[redacted])"
        );
    }

    #[test]
    fn rejects_malformed_tokens() {
        let t = Token::generate(TokenKind::PersonalAccess);
        let v = t.expose();
        assert_eq!(parse(""), Err(TokenError::Malformed));
        assert_eq!(parse(&v[..v.len() - 1]), Err(TokenError::Malformed));
        assert_eq!(parse(&format!("{v}x")), Err(TokenError::Malformed));
        assert_eq!(
            parse(&v.replacen("tsp_", "ghp_", 1)),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            parse(&v.replacen("tsp_", "tss_", 1)),
            Err(TokenError::Checksum),
            "kind is covered"
        );
        let mut bad = v.as_bytes().to_vec();
        bad[10] = b'-';
        assert_eq!(
            parse(std::str::from_utf8(&bad).unwrap()),
            Err(TokenError::Malformed)
        );
        // A multi-byte character at the prefix boundary must not panic.
        assert_eq!(
            parse(&format!("tsé{}", &v[4..v.len() - 1])),
            Err(TokenError::Malformed)
        );
    }

    proptest! {
        #[test]
        fn any_single_character_change_is_caught(pos in 4usize..TOKEN_LEN, replacement in 0usize..62) {
            let t = Token::generate(TokenKind::Session);
            let mut bytes = t.expose().as_bytes().to_vec();
            let new = BASE62[replacement];
            prop_assume!(bytes[pos] != new);
            bytes[pos] = new;
            let typo = String::from_utf8(bytes).unwrap();
            prop_assert!(parse(&typo).is_err());
        }

        #[test]
        fn arbitrary_input_never_panics(s in ".{0,64}") {
            let _ = parse(&s);
        }

        #[test]
        fn checksum_round_trips(crc in any::<u32>()) {
            let mut s = String::new();
            push_checksum(&mut s, crc);
            prop_assert_eq!(s.len(), CHECKSUM_CHARS);
            let back = s.bytes().fold(0u64, |acc, b| {
                acc * 62 + BASE62.iter().position(|&c| c == b).unwrap() as u64
            });
            prop_assert_eq!(back, u64::from(crc));
        }
    }
}
