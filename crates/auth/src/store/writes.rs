//! Writes that span tables, each one transaction: either every row exists afterwards or
//! none does.

use sea_orm::{DbErr, TransactionTrait};

use super::accounts::Account;
use super::verification_storage::VerificationStore;
use super::{StorageError, Store};
use crate::models::{Session, User};

impl Store {
    /// Sign-up in one transaction: the user, its credential account and, when signing in
    /// right away, the session. Either all rows exist afterwards or none does.
    pub async fn create_credential_user(
        &self,
        user: &User,
        password_hash: &str,
        session: Option<&Session>,
    ) -> Result<(), DbErr> {
        let tx = self.connection().begin().await?;
        self.users().insert(&tx, user).await?;
        self.accounts()
            .insert_credential(&tx, user, password_hash)
            .await?;
        if let Some(session) = session {
            self.session_rows().insert(&tx, session).await?;
        }
        tx.commit().await
    }

    /// change-password with `revokeOtherSessions`: every session row goes, the password
    /// changes and one new session row is made (when sessions are kept in the table), all
    /// or nothing.
    pub async fn change_password_revoking_sessions(
        &self,
        account_id: &str,
        hash: &str,
        user_id: &str,
        new_session: Option<&Session>,
    ) -> Result<(), DbErr> {
        let tx = self.connection().begin().await?;
        self.session_rows().delete_all_of_user(&tx, user_id).await?;
        self.accounts()
            .update_password_in(&tx, account_id, hash)
            .await?;
        if let Some(session) = new_session {
            self.session_rows().insert(&tx, session).await?;
        }
        tx.commit().await?;
        self.user_changed(user_id);
        Ok(())
    }

    /// Social sign-up: the user, its provider account and the session row (when sessions
    /// are kept in the table), all or nothing.
    pub async fn create_oauth_user(
        &self,
        user: &User,
        account: &Account,
        session: Option<&Session>,
    ) -> Result<(), DbErr> {
        let tx = self.connection().begin().await?;
        self.users().insert(&tx, user).await?;
        self.accounts().insert(&tx, account).await?;
        if let Some(session) = session {
            self.session_rows().insert(&tx, session).await?;
        }
        tx.commit().await
    }

    /// Password reset: the token is used up (it must name `user`), the user's session rows
    /// go when `revoke_sessions`, and the new password is set, all or nothing. False when
    /// the token was already used or names someone else.
    pub async fn reset_password(
        &self,
        verifications: &VerificationStore,
        identifier: &str,
        user: &User,
        hash: &str,
        revoke_sessions: bool,
    ) -> Result<bool, StorageError> {
        let tx = self.connection().begin().await?;
        let consumed = verifications.consume(&tx, identifier).await?;
        if consumed.is_none_or(|c| c.value != user.id) {
            tx.rollback().await?;
            return Ok(false);
        }
        if revoke_sessions {
            self.session_rows()
                .delete_all_of_user(&tx, &user.id)
                .await?;
        }
        self.accounts().set_password(&tx, user, hash).await?;
        tx.commit().await?;
        if revoke_sessions {
            self.user_changed(&user.id);
        }
        Ok(true)
    }
}
