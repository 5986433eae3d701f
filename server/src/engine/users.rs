//! Users: creation (name and password rules) and the signed-in user's profile.

use wire::User;

use super::{AuthUser, Engine, check_username, new_id, user_view};
use crate::{
    error::{Error, Result},
    password,
    store::UserRow,
};

impl Engine {
    // --- users ---

    /// Creates a user; `BadRequest` for a bad name, weak password or taken name.
    pub async fn create_user(&self, username: &str, pass: &str, roles: &[String]) -> Result<User> {
        check_username(username)?;
        password::check_strength(pass, username)?;
        if roles.is_empty() || roles.iter().any(|r| check_username(r).is_err()) {
            return Err(Error::BadRequest(
                "Roles are names like 'admin' or 'user'.".into(),
            ));
        }
        let row = UserRow {
            id: new_id(),
            username: username.to_owned(),
            password_hash: self.hasher.hash(pass.to_owned()).await?,
            roles: roles.join(" "),
            created_at: self.now(),
        };
        if !self.store.insert_user(&row).await? {
            return Err(Error::BadRequest(format!(
                "The username '{username}' is taken."
            )));
        }
        Ok(user_view(&row))
    }

    /// The signed-in user, from the verified claims alone: no database round trip. A
    /// removed user's tokens are revoked, so they never get here.
    pub fn user(&self, auth: &AuthUser) -> User {
        User {
            id: auth.user_id.clone(),
            username: auth.username.clone(),
            roles: auth.roles.clone(),
            permissions: auth.permissions.clone(),
        }
    }
}
