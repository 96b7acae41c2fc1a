//! The rules on what an account may create and send, decided in one place above the store.
//! Each check reads the facts it needs (counts, the day's usage) with the store's own
//! functions, in the caller's transaction, so that a decision and the change it guards commit
//! together; then it decides: sandbox limits ([`SandboxPolicy`]), the inbox's state, the daily
//! send limits, and the number of custom domains. The store itself only keeps data consistent
//! (a taken address, a domain another account verified).

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

/// A send as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct SendCheck<'a> {
    /// The sending inbox.
    pub inbox: &'a Inbox,
    /// The recipients, once known (before composing they are not looked at).
    pub recipients: Option<&'a [&'a str]>,
}

impl Limits {
    /// Whether the account may create another inbox.
    pub fn may_create_inbox(
        &self,
        db: &Db,
        account_id: AccountId,
        now: Timestamp,
    ) -> Result<(), Failure> {
        let account = accounts::get_account(db, account_id)?;
        let existing = inboxes::created_count(db, account_id)?;
        self.sandbox(&account, now, Attempt::CreateInbox { existing })
    }

    /// Whether the account may create a webhook.
    pub fn may_create_webhook(
        &self,
        db: &Db,
        account_id: AccountId,
        now: Timestamp,
    ) -> Result<(), Failure> {
        let account = accounts::get_account(db, account_id)?;
        self.sandbox(&account, now, Attempt::CreateWebhook)
    }

    /// Whether the account may add another custom domain.
    pub fn may_add_domain(
        &self,
        db: &Db,
        account_id: AccountId,
        now: Timestamp,
    ) -> Result<(), Failure> {
        let account = accounts::get_account(db, account_id)?;
        self.sandbox(&account, now, Attempt::CreateDomain)?;
        if domains::owned_count(db, account_id)? >= u64::from(self.max_domains_per_account) {
            return Err(Refusal::DomainLimitReached {
                limit: self.max_domains_per_account,
            }
            .into());
        }
        Ok(())
    }

    /// Whether the inbox may send now: it is active, neither it nor its account has used the
    /// day's quota, and a sandbox account is within its limits (which, once the recipients
    /// are known, include sending only to inboxes here).
    pub fn may_send(&self, db: &Db, send: SendCheck<'_>, now: Timestamp) -> Result<(), Failure> {
        let inbox = send.inbox;
        if inbox.status != InboxStatus::Active {
            return Err(Refusal::InboxSuspended.into());
        }
        let usage = outbound::send_usage(db, inbox.id, now)?;
        if over_daily_limits(inbox, &usage) {
            return Err(Refusal::DailySendLimitReached.into());
        }
        let account = accounts::get_account(db, inbox.account_id)?;
        let external = match send.recipients {
            Some(recipients) if self.sandbox.limits_recipients(&account) => {
                outbound::first_external(db, recipients.iter().copied())?
            }
            _ => None,
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
