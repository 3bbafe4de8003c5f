//! The mailed links: confirming an address, asking for a new link, and resetting a forgotten
//! password. A user has one live link per purpose; redeeming one is one conditional write.

use super::{AccountError, Accounts, rate_limited};
use crate::auth::limits::take;
use crate::auth::secret::MailToken;
use crate::domain::{Email, Password, Principal, TokenPurpose};

impl Accounts {
    /// Redeems an address-verification token: the address is verified and the token gone, once
    /// (one conditional write); live sessions' snapshots are updated too (best effort).
    pub async fn verify_email(&self, token: &str) -> Result<(), AccountError> {
        let token = MailToken::parse(token).ok_or(AccountError::InvalidVerificationToken)?;
        let now = self.clock.now();
        let user = self.users.get(token.user()).await?.ok_or(AccountError::InvalidVerificationToken)?;
        let live = user.token(TokenPurpose::VerifyEmail).is_some_and(|t| t.admits(&token.digest(), now));
        if !live || !self.users.verify_email(&user, &token.digest(), now).await? {
            return Err(AccountError::InvalidVerificationToken);
        }
        if let Err(e) = self.sessions.mark_email_verified(&user.profile.id, now).await {
            tracing::warn!(error = %e, "session snapshots not marked verified; they read the account instead");
        }
        tracing::info!(user_id = %user.profile.id.as_str(), "email verified");
        Ok(())
    }

    /// Mails a new verification link (the last one stops working), at most 3 times per
    /// 15 minutes per user.
    pub async fn resend_verification(
        &self,
        principal: &Principal,
        site: Option<&str>,
    ) -> Result<(), AccountError> {
        let page = self.policy.verify.page(site)?;
        let id = &principal.user().id;
        let user = self.users.get(id).await?.ok_or(AccountError::SessionInvalid)?;
        if user.profile.email_verified {
            return Err(AccountError::AlreadyVerified);
        }
        take(&*self.limits, "verify-user", id.as_str(), self.policy.verify_resends, self.clock.now())
            .await?
            .map_err(rate_limited)?;
        self.mail_token(&user, TokenPurpose::VerifyEmail, &page).await?;
        tracing::info!(user_id = %id.as_str(), "verification mail sent again");
        Ok(())
    }

    /// Starts a password reset. The caller answers 202 the same way whether or not the account
    /// exists; only a real account gets a token (replacing its last one) and a mail. Limited per
    /// source address, then per email, before anything is looked up.
    pub async fn forgot_password(
        &self,
        email: Email,
        source: Option<&str>,
        site: Option<&str>,
    ) -> Result<(), AccountError> {
        let page = self.policy.reset.page(site)?;
        self.per_address("reset#addr", source, self.policy.resets_per_address).await?;
        take(&*self.limits, "reset#email", email.as_str(), self.policy.resets_per_email, self.clock.now())
            .await?
            .map_err(rate_limited)?;
        let Some(user) = self.users.find_by_email(&email).await? else { return Ok(()) };
        self.mail_token(&user, TokenPurpose::ResetPassword, &page).await?;
        tracing::info!(user_id = %user.profile.id.as_str(), "password reset mail sent");
        Ok(())
    }

    /// Redeems a reset token (once, before its expiry, and only the user's latest): sets the
    /// new password, removes every mailed token, marks the address verified (the link proved
    /// it) and ends every session of the user, closing their sockets.
    pub async fn reset_password(&self, token: &str, new_password: Password) -> Result<(), AccountError> {
        let token = MailToken::parse(token).ok_or(AccountError::InvalidResetToken)?;
        let now = self.clock.now();
        let user = self.users.get(token.user()).await?.ok_or(AccountError::InvalidResetToken)?;
        // Checked before hashing, so a made-up token costs a read, not a hash.
        if !user.token(TokenPurpose::ResetPassword).is_some_and(|t| t.admits(&token.digest(), now)) {
            return Err(AccountError::InvalidResetToken);
        }
        let phc = self.hasher.hash(self.hasher.reserve()?, &new_password).await?;
        if !self.users.reset_password(&user, &token.digest(), &phc, self.clock.now()).await? {
            return Err(AccountError::InvalidResetToken);
        }
        self.end_sessions(&user.profile.id, None).await?;
        match self.notifier.revoke_user(&user.profile.id).await {
            Ok(d) => tracing::info!(closed = d.sent, gone = d.gone, failed = d.failed, "user sockets closed"),
            Err(e) => tracing::warn!(error = %e, "listing the user's sockets failed; not closed"),
        }
        // A reset proves control of the mailbox: earlier failed attempts no longer count.
        self.throttle.succeed(&user.profile.email).await?;
        tracing::info!(user_id = %user.profile.id.as_str(), "password reset");
        Ok(())
    }
}
