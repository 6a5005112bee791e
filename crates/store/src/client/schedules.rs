//! resque-scheduler's stored schedules (`Resque.set_schedule` and friends) on [`Client`].
//!
//! Every schedule set here is persistent (`persist: true` in Ruby): a non-persistent
//! `set_schedule` only changes the calling process's memory, which no scheduler in another
//! process ever sees (resque-scheduler #571), so it is not offered.

use resque_protocol::ScheduleConfig;

use super::Client;
use crate::Result;

impl Client {
    /// `Resque.set_schedule(name, config)` with `persist: true`: stored in
    /// `persistent_schedules` and announced in `schedules_changed`, in one step, for
    /// dynamic schedulers (`DYNAMIC_SCHEDULE`). A bad `cron`/`every` is refused here rather
    /// than by the scheduler later.
    pub async fn set_schedule(&self, name: &str, config: &ScheduleConfig) -> Result<()> {
        config.interval()?;
        self.store()?.schedule_set(name, &config.encode()?).await
    }

    /// `Resque.remove_schedule(name)`; `true` when it was stored.
    pub async fn remove_schedule(&self, name: &str) -> Result<bool> {
        self.store()?.schedule_remove(name).await
    }

    /// `Resque.fetch_schedule(name)` from `persistent_schedules`.
    pub async fn fetch_schedule(&self, name: &str) -> Result<Option<ScheduleConfig>> {
        match self.store()?.schedule_get(name).await? {
            Some(raw) => Ok(Some(ScheduleConfig::decode(&raw)?)),
            None => Ok(None),
        }
    }

    /// Every stored schedule, sorted by name; an entry whose JSON cannot be read comes back
    /// as its name and the error, so one bad entry hides nothing else.
    pub async fn all_schedules(
        &self,
    ) -> Result<
        Vec<(
            String,
            std::result::Result<ScheduleConfig, resque_protocol::Error>,
        )>,
    > {
        let raw = self.store()?.schedules_all().await?;
        Ok(raw
            .into_iter()
            .map(|(name, json)| (name, ScheduleConfig::decode(&json)))
            .collect())
    }

    /// When a schedule last fired (`delayed:last_enqueued_at`), as Ruby's `Time#to_s`.
    pub async fn last_enqueued_at(&self, name: &str) -> Result<Option<String>> {
        self.store()?.last_enqueued_at(name).await
    }
}
