//! A password typed into the wizard (Test sign-in, Verify federated login): never shown by `Debug`
//! (the state and the effects are logged and compared in tests), wiped from memory when dropped,
//! and typed into room reserved up front, so that no keystroke moves it and leaves a copy behind.

use zeroize::Zeroize;

/// Longer than any password a person types; typing past it grows the buffer (the old one is wiped
/// first).
const ROOM: usize = 256;

#[derive(Clone, PartialEq, Eq)]
pub struct TypedPassword(String);

impl TypedPassword {
    pub fn new() -> TypedPassword {
        TypedPassword(String::with_capacity(ROOM))
    }

    /// The field to type into.
    pub fn field(&mut self) -> &mut String {
        if self.0.len() + 4 > self.0.capacity() {
            // Grow by hand, wiping the old buffer, rather than let String reallocate and free it.
            let mut bigger = String::with_capacity(self.0.capacity() * 2);
            bigger.push_str(&self.0);
            self.0.zeroize();
            self.0 = bigger;
        }
        &mut self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many characters to show as `*`.
    pub fn len(&self) -> usize {
        self.0.chars().count()
    }

    /// Hands the password on as a secret and leaves the field empty (and wiped).
    pub fn take(&mut self) -> TypedPassword {
        std::mem::take(self)
    }

    /// The password for the backend: a `SecretString`, itself wiped when dropped.
    pub fn into_secret(self) -> secrecy::SecretString {
        secrecy::SecretString::from(self.0.as_str())
    }
}

impl Default for TypedPassword {
    fn default() -> Self {
        TypedPassword::new()
    }
}

impl Drop for TypedPassword {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for TypedPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TypedPassword([redacted])")
    }
}

impl From<&str> for TypedPassword {
    fn from(s: &str) -> Self {
        let mut p = TypedPassword::new();
        p.field().push_str(s);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shown_and_handed_on_once() {
        let mut p = TypedPassword::new();
        for c in "canary-Passw0rd".chars() {
            p.field().push(c);
        }
        assert!(!format!("{p:?}").contains("canary"));
        let taken = p.take();
        assert!(p.is_empty());
        assert_eq!(taken.len(), 15);
        use secrecy::ExposeSecret;
        assert_eq!(taken.into_secret().expose_secret(), "canary-Passw0rd");
        // Typing far past the room keeps every character.
        let mut long = TypedPassword::new();
        for _ in 0..1000 {
            long.field().push('x');
        }
        assert_eq!(long.len(), 1000);
    }
}
