//! The rules on what an account may create and send, decided in one place above the store.
//! Each check reads the facts it needs (counts, the day's usage) with the store's own
//! functions, in the caller's transaction, so that a decision and the change it guards commit
//! together; then it decides: sandbox limits ([`SandboxPolicy`]), the inbox's state, the daily
//! send limits, and the number of custom domains. Rules about the stored data itself
//! (uniqueness, references, a send's attachment total) stay in the store, where the data is
//! written; `docs/architecture.md` lists them.

use std::sync::Arc;

use crate::domain::account::Account;
use crate::domain::sandbox::{Attempt, SandboxPolicy};
use crate::domain::{AccountId, Inbox, InboxStatus, Refusal, Timestamp};
use crate::store::outbound::{self, SendUsage};
use crate::store::{Db, Failure, accounts, domains, inboxes};

/// The limits in force.
#[derive(Debug, Clone)]
pub struct Limits {
    /// What sandbox accounts may do.
    pub sandbox: Arc<SandboxPolicy>,
    /// Custom domains per account.
    pub max_domains_per_account: u32,
}

impl Limits {
    /// Whether the account may create another inbox.
    pub fn may_create_inbox(
        &self,
        db: &Db,
        account_id: AccountId,
        now: Timestamp,
    ) -> Result<(), Failure> {
        let existing = inboxes::created_count(db, account_id)?;
        self.account_may(db, account_id, now, Attempt::CreateInbox { existing })
    }

    /// Whether the account may create a webhook.
    pub fn may_create_webhook(
        &self,
        db: &Db,
        account_id: AccountId,
        now: Timestamp,
    ) -> Result<(), Failure> {
        self.account_may(db, account_id, now, Attempt::CreateWebhook)
    }

    /// Whether the account may add another custom domain.
    pub fn may_add_domain(
        &self,
        db: &Db,
        account_id: AccountId,
        now: Timestamp,
    ) -> Result<(), Failure> {
        self.account_may(db, account_id, now, Attempt::CreateDomain)?;
        if domains::owned_count(db, account_id)? >= u64::from(self.max_domains_per_account) {
            return Err(Refusal::DomainLimitReached {
                limit: self.max_domains_per_account,
            }
            .into());
        }
        Ok(())
    }

    /// Whether the inbox may start a send (before composing): it is active and neither it
    /// nor its account has used the day's quota.
    pub fn may_start_send(&self, db: &Db, inbox: &Inbox, now: Timestamp) -> Result<(), Failure> {
        self.inbox_may_send(db, inbox, now).map(|_| ())
    }

    /// Whether the inbox may send to `recipients` now: [`Limits::may_start_send`], and a
    /// sandbox account within its limits (messages sent, recipients only inboxes here).
    pub fn may_send(
        &self,
        db: &Db,
        inbox: &Inbox,
        recipients: &[&str],
        now: Timestamp,
    ) -> Result<(), Failure> {
        let usage = self.inbox_may_send(db, inbox, now)?;
        let account = accounts::get_account(db, inbox.account_id)?;
        let external = if self.sandbox.limits_recipients(account.plan) {
            outbound::first_external(db, recipients.iter().copied())?
        } else {
            None
        };
        self.sandbox(
            &account,
            now,
            Attempt::Send {
                sent: usage.account_total,
                external,
            },
        )
    }

    /// The inbox is active and under the daily limits; returns the usage read.
    fn inbox_may_send(&self, db: &Db, inbox: &Inbox, now: Timestamp) -> Result<SendUsage, Failure> {
        if inbox.status != InboxStatus::Active {
            return Err(Refusal::InboxSuspended.into());
        }
        let usage = outbound::send_usage(db, inbox.id, now)?;
        if over_daily_limits(inbox, &usage) {
            return Err(Refusal::DailySendLimitReached.into());
        }
        Ok(usage)
    }

    /// Reads the account and checks `attempt` against the sandbox limits.
    fn account_may(
        &self,
        db: &Db,
        account_id: AccountId,
        now: Timestamp,
        attempt: Attempt<'_>,
    ) -> Result<(), Failure> {
        let account = accounts::get_account(db, account_id)?;
        self.sandbox(&account, now, attempt)
    }

    fn sandbox(
        &self,
        account: &Account,
        now: Timestamp,
        attempt: Attempt<'_>,
    ) -> Result<(), Failure> {
        Ok(self.sandbox.check(account, now, attempt)?)
    }
}

/// Whether the inbox or its account has sent its quota for the UTC day (every message
/// accepted today counts).
fn over_daily_limits(inbox: &Inbox, usage: &SendUsage) -> bool {
    usage.inbox_today >= u64::from(inbox.daily_send_limit)
        || usage.account_today >= usage.account_daily_limit
}
