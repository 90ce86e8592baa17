//! The intake: how messages, reactions and membership changes reach the
//! rollups, off the write path.
//!
//! Writing a message costs the rollups nothing: no trigger on `messages`
//! inserts, no statement of ours. Real Spin opens a new SQLite connection
//! for every request, which parses every trigger of the schema, and a
//! statement compiles the triggers it fires while it holds the write lock;
//! with the trigger cascade of migration 0015, sending in Spin's storage
//! mode ran 24–32 % slower (README, "Storage on real Spin"). Instead
//! (migration 0016):
//! * **New rows by id.** Messages, reactions and membership changes get
//!   their ids in commit order (SQLite has one writer at a time, and the
//!   ids are `AUTOINCREMENT`), so the rows after the watermarks of
//!   `analytics_intake` are exactly the ones the rollups have not seen.
//! * **A journal for the rest.** A message deleted, a reaction removed (its
//!   row is gone) and a person moved to another department are noted in
//!   `analytics_journal` by three one-statement triggers, on paths far
//!   rarer than sending.
//! * **Folding in** ([`catch_up`]) runs in steps of at most [`STEP`] ids of
//!   each source, each its own short transaction, so writers wait for one
//!   step at most. Each step takes every department move first, then the
//!   journal, and reads new rows only once the journal is empty: a message
//!   deleted before it was ever counted is then read as deleted and never
//!   counted, and a journal entry subtracts only what a watermark says was
//!   counted. Every analytics request catches up before it reads, so the
//!   reports are exact; the scheduler's `POST /analytics/run` keeps the
//!   backlog short between them. A long backlog (the scheduler was not
//!   running) is folded in the same steps: a rebuild would hold the write
//!   lock for as long as the whole workspace takes (16 s over 1.1 million
//!   rows in `scripts/bench analytics`), a step for one step.
//! * **The cascade** from `analytics_activity` to the other rollups (the
//!   departments' days, the members' periods and their counts, the chats'
//!   days and periods) runs as TEMP triggers ([`CASCADE`]) that only the
//!   connections that fold in create; no other request parses them. TEMP
//!   triggers are SQLite's; a PostgreSQL backend would run the same
//!   arithmetic as statements of the step (this module is the one place).

use crate::analytics::local_day_sql;
use crate::platform::db::{transaction, Db, Value};
use crate::platform::error::{Error, Result};

/// Most ids of each source (messages, reactions, membership changes,
/// journal entries) one step folds in. A step holds the write lock while it
/// runs: `STEPS=seed,queries scripts/bench analytics` folds 20,000 messages
/// over 1,000 chats and 5,000 reactions in 40 steps of 500 in 1.29–1.42 s,
/// 33–35 ms a step on average; writers wait for one step at most.
const STEP: i64 = 500;

/// The cascade from `analytics_activity` to the rollups derived from it,
/// as TEMP triggers: `(name, CREATE TEMP TRIGGER ...)`. A count changes
/// before the row it counts, which the statements check. The bodies are
/// those of the triggers migration 0015 first created on
/// `analytics_activity`, which 0016 drops; `WEEK_OF_NEW`, `MONTH_OF_OLD`
/// and the like stand for [`super::week_start_sql`] and
/// [`super::month_start_sql`] of `NEW.day` or `OLD.day` ([`cascade_sql`]),
/// the expressions the rebuild uses.
const CASCADE: [(&str, &str); 3] = [
    (
        "analytics_activity_new",
        r#"CREATE TEMP TRIGGER IF NOT EXISTS analytics_activity_new AFTER INSERT ON analytics_activity
BEGIN
  INSERT INTO analytics_department_days (day, department, messages, reactions)
  VALUES (NEW.day, (SELECT coalesce(u.department, '') FROM users u WHERE u.id = NEW.user_id),
          NEW.messages + NEW.thread_messages, NEW.reactions + NEW.thread_reactions)
  ON CONFLICT (day, department) DO UPDATE SET
    messages = messages + excluded.messages, reactions = reactions + excluded.reactions;
  INSERT INTO analytics_period_members (kind, start, department, members)
  SELECT p.kind, p.start, (SELECT coalesce(u.department, '') FROM users u WHERE u.id = NEW.user_id), 1 FROM (SELECT 'day' AS kind, NEW.day AS start UNION ALL SELECT 'week', WEEK_OF_NEW UNION ALL SELECT 'month', MONTH_OF_NEW) p
  WHERE NOT EXISTS (SELECT 1 FROM analytics_member_periods m
                    WHERE m.kind = p.kind AND m.start = p.start AND m.user_id = NEW.user_id)
  ON CONFLICT (kind, start, department) DO UPDATE SET members = members + 1;
  INSERT INTO analytics_member_periods (kind, start, user_id, department, facts)
  SELECT p.kind, p.start, NEW.user_id, (SELECT coalesce(u.department, '') FROM users u WHERE u.id = NEW.user_id), 1 FROM (SELECT 'day' AS kind, NEW.day AS start UNION ALL SELECT 'week', WEEK_OF_NEW UNION ALL SELECT 'month', MONTH_OF_NEW) p WHERE true
  ON CONFLICT (kind, start, user_id) DO UPDATE SET facts = facts + 1;
  INSERT INTO analytics_chat_periods (kind, start, chat_id, days)
  SELECT p.kind, p.start, NEW.chat_id, 1 FROM (SELECT 'week' AS kind, WEEK_OF_NEW AS start UNION ALL SELECT 'month', MONTH_OF_NEW) p
  WHERE NEW.messages + NEW.thread_messages > 0
    AND NOT EXISTS (SELECT 1 FROM analytics_chat_days d
                    WHERE d.chat_id = NEW.chat_id AND d.day = NEW.day AND d.message_authors > 0)
  ON CONFLICT (kind, start, chat_id) DO UPDATE SET days = days + 1;
  INSERT INTO analytics_chat_days (chat_id, day, message_authors)
  VALUES (NEW.chat_id, NEW.day, NEW.messages + NEW.thread_messages > 0)
  ON CONFLICT (chat_id, day) DO UPDATE SET message_authors = message_authors + excluded.message_authors;
END"#,
    ),
    (
        "analytics_activity_changed",
        r#"CREATE TEMP TRIGGER IF NOT EXISTS analytics_activity_changed AFTER UPDATE ON analytics_activity
BEGIN
  UPDATE analytics_department_days SET
    messages = messages + NEW.messages + NEW.thread_messages - OLD.messages - OLD.thread_messages,
    reactions = reactions + NEW.reactions + NEW.thread_reactions - OLD.reactions - OLD.thread_reactions
  WHERE day = NEW.day AND department = (SELECT coalesce(u.department, '') FROM users u WHERE u.id = NEW.user_id);
  INSERT INTO analytics_chat_periods (kind, start, chat_id, days)
  SELECT p.kind, p.start, NEW.chat_id, 1 FROM (SELECT 'week' AS kind, WEEK_OF_NEW AS start UNION ALL SELECT 'month', MONTH_OF_NEW) p
  WHERE OLD.messages + OLD.thread_messages = 0 AND NEW.messages + NEW.thread_messages > 0
    AND NOT EXISTS (SELECT 1 FROM analytics_chat_days d
                    WHERE d.chat_id = NEW.chat_id AND d.day = NEW.day AND d.message_authors > 0)
  ON CONFLICT (kind, start, chat_id) DO UPDATE SET days = days + 1;
  UPDATE analytics_chat_days SET
    message_authors = message_authors + (NEW.messages + NEW.thread_messages > 0) - (OLD.messages + OLD.thread_messages > 0)
  WHERE (NEW.messages + NEW.thread_messages > 0) <> (OLD.messages + OLD.thread_messages > 0)
    AND chat_id = NEW.chat_id AND day = NEW.day;
  UPDATE analytics_chat_periods SET days = days - 1
  WHERE OLD.messages + OLD.thread_messages > 0 AND NEW.messages + NEW.thread_messages = 0
    AND chat_id = NEW.chat_id
    AND EXISTS (SELECT 1 FROM analytics_chat_days d
                WHERE d.chat_id = NEW.chat_id AND d.day = NEW.day AND d.message_authors = 0)
    AND ((kind = 'week' AND start = WEEK_OF_NEW) OR (kind = 'month' AND start = MONTH_OF_NEW));
  DELETE FROM analytics_chat_periods
  WHERE OLD.messages + OLD.thread_messages > 0 AND NEW.messages + NEW.thread_messages = 0
    AND chat_id = NEW.chat_id AND days = 0;
END"#,
    ),
    (
        "analytics_activity_gone",
        r#"CREATE TEMP TRIGGER IF NOT EXISTS analytics_activity_gone AFTER DELETE ON analytics_activity
BEGIN
  UPDATE analytics_member_periods SET facts = facts - 1
  WHERE user_id = OLD.user_id
    AND ((kind = 'day' AND start = OLD.day)
      OR (kind = 'week' AND start = WEEK_OF_OLD)
      OR (kind = 'month' AND start = MONTH_OF_OLD));
  UPDATE analytics_period_members SET members = members - 1
  WHERE (kind, start, department) IN
        (SELECT kind, start, department FROM analytics_member_periods WHERE user_id = OLD.user_id AND facts = 0);
  DELETE FROM analytics_member_periods WHERE user_id = OLD.user_id AND facts = 0;
END"#,
    ),
];

/// What one [`catch_up`] folded in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Intake {
    /// New messages read.
    pub messages: i64,
    /// New reactions read.
    pub reactions: i64,
    /// New membership changes read.
    pub membership_changes: i64,
    /// Journal entries folded in (deletions, removals, department moves).
    pub journal: i64,
    /// Transactions it took.
    pub steps: i64,
    /// Whether the rollups were built from the raw rows instead (they had
    /// never been).
    pub rebuilt: bool,
}

impl Intake {
    /// The API shape (`AnalyticsIntake` in our OpenAPI).
    pub fn render(&self) -> serde_json::Value {
        serde_json::json!({
            "messages": self.messages,
            "reactions": self.reactions,
            "membership_changes": self.membership_changes,
            "journal": self.journal,
            "steps": self.steps,
            "rebuilt": self.rebuilt,
        })
    }
}

/// One of [`CASCADE`]'s statements with its week and month expressions.
fn cascade_sql(template: &str) -> String {
    use super::{month_start_sql, week_start_sql};
    template
        .replace("WEEK_OF_NEW", &week_start_sql("NEW.day"))
        .replace("WEEK_OF_OLD", &week_start_sql("OLD.day"))
        .replace("MONTH_OF_NEW", &month_start_sql("NEW.day"))
        .replace("MONTH_OF_OLD", &month_start_sql("OLD.day"))
}

/// Creates the cascade's TEMP triggers, and the TEMP table of a step's
/// deltas, on this connection (`IF NOT EXISTS`: a pooled connection that
/// has them already runs four statements that change nothing).
fn create_cascade(db: &dyn Db) -> Result<()> {
    for (_, template) in CASCADE {
        db.execute(&cascade_sql(template), &[])?;
    }
    db.execute(
        "CREATE TEMP TABLE IF NOT EXISTS analytics_deltas (chat_id INTEGER, day TEXT, user_id INTEGER, \
         messages INTEGER, thread_messages INTEGER, reactions INTEGER, thread_reactions INTEGER)",
        &[],
    )?;
    Ok(())
}

/// Drops the cascade's TEMP triggers from this connection, for a rebuild,
/// which computes every table with statements of its own.
pub fn drop_cascade(db: &dyn Db) -> Result<()> {
    for (name, _) in CASCADE {
        db.execute(&format!("DROP TRIGGER IF EXISTS temp.{name}"), &[])?;
    }
    Ok(())
}

/// Where the intake stands: the watermarks and the sources' last ids.
#[derive(Debug, Clone, Copy)]
struct Marks {
    messages_seen: i64,
    reactions_seen: i64,
    memberships_seen: i64,
    messages_last: i64,
    reactions_last: i64,
    memberships_last: i64,
    journal: i64,
}

impl Marks {
    fn read(db: &dyn Db) -> Result<Marks> {
        let r = db
            .query_row(
                "SELECT messages_seen, reactions_seen, memberships_seen, \
                   (SELECT coalesce(max(id), 0) FROM messages), \
                   (SELECT coalesce(max(id), 0) FROM reactions), \
                   (SELECT coalesce(max(id), 0) FROM chat_membership_changes), \
                   (SELECT count(*) FROM analytics_journal) \
                 FROM analytics_intake WHERE id = 1",
                &[],
            )?
            .ok_or_else(|| Error::Internal("analytics_intake has no row".into()))?;
        Ok(Marks {
            messages_seen: r.i64(0)?,
            reactions_seen: r.i64(1)?,
            memberships_seen: r.i64(2)?,
            messages_last: r.i64(3)?,
            reactions_last: r.i64(4)?,
            memberships_last: r.i64(5)?,
            journal: r.i64(6)?,
        })
    }

    /// Rows and entries not folded in yet.
    fn backlog(&self) -> i64 {
        (self.messages_last - self.messages_seen).max(0)
            + (self.reactions_last - self.reactions_seen).max(0)
            + (self.memberships_last - self.memberships_seen).max(0)
            + self.journal
    }
}

/// Folds everything written since the last call into the rollups, in steps
/// of [`STEP`] (see the module doc). The rollups must have been built
/// ([`super::ready`]).
pub fn catch_up(db: &dyn Db) -> Result<Intake> {
    catch_up_in_steps(db, STEP)
}

/// [`catch_up`] with steps of `step` ids (tests use small ones).
pub fn catch_up_in_steps(db: &dyn Db, step: i64) -> Result<Intake> {
    let mut intake = Intake::default();
    let marks = Marks::read(db)?;
    if marks.backlog() == 0 {
        return Ok(intake);
    }
    create_cascade(db)?;
    loop {
        let done = transaction(db, |db| fold_step(db, step, &mut intake))?;
        intake.steps += 1;
        if done {
            return Ok(intake);
        }
    }
}

/// One step, inside its transaction; whether nothing is left.
fn fold_step(db: &dyn Db, step: i64, intake: &mut Intake) -> Result<bool> {
    let marks = Marks::read(db)?;
    let moved = move_departments(db)?;
    intake.journal += moved;
    let pending = marks.journal - moved;
    if pending > 0 {
        let folded = fold_journal(db, &marks, step)?;
        intake.journal += folded;
        if folded < pending {
            return Ok(false);
        }
    }
    let messages_to = marks.messages_last.min(marks.messages_seen + step);
    let reactions_to = marks.reactions_last.min(marks.reactions_seen + step);
    let memberships_to = marks.memberships_last.min(marks.memberships_seen + step);
    add_activity(db, &marks, messages_to, reactions_to)?;
    add_memberships(db, marks.memberships_seen, memberships_to)?;
    db.execute(
        "UPDATE analytics_intake SET messages_seen = max(messages_seen, ?), \
         reactions_seen = max(reactions_seen, ?), memberships_seen = max(memberships_seen, ?) WHERE id = 1",
        &[messages_to.into(), reactions_to.into(), memberships_to.into()],
    )?;
    intake.messages += (messages_to - marks.messages_seen).max(0);
    intake.reactions += (reactions_to - marks.reactions_seen).max(0);
    intake.membership_changes += (memberships_to - marks.memberships_seen).max(0);
    Ok(messages_to >= marks.messages_last
        && reactions_to >= marks.reactions_last
        && memberships_to >= marks.memberships_last)
}

/// The people the journal says changed department: every figure of theirs
/// moves to the department they have now, from the one their day rows of
/// `analytics_member_periods` say it was counted in. All of them, in every
/// step, before anything else, so the cascade (which reads the current
/// department) never meets a person counted in another. Returns the
/// entries folded in.
fn move_departments(db: &dyn Db) -> Result<i64> {
    let moved = db.execute(
        "DELETE FROM analytics_journal WHERE kind = 'department' RETURNING user_id",
        &[],
    )?;
    if moved.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = moved
        .iter()
        .filter_map(|r| r.opt_i64(0).ok().flatten())
        .collect();
    let people = Value::id_array(&ids);
    // Their periods counted in another department than their own now.
    const MISPLACED: &str = "FROM analytics_member_periods p JOIN users u ON u.id = p.user_id \
         WHERE p.user_id IN (SELECT value FROM json_each(?)) AND p.department <> coalesce(u.department, '')";
    // Each of their days: its sums leave the department it was counted in
    // for the one they are in now.
    db.execute(
        "WITH s AS ( \
           SELECT p.start AS day, p.department AS counted, coalesce(u.department, '') AS now, \
                  sum(a.messages + a.thread_messages) AS messages, \
                  sum(a.reactions + a.thread_reactions) AS reactions \
           FROM analytics_member_periods p JOIN users u ON u.id = p.user_id \
           JOIN analytics_activity a ON a.user_id = p.user_id AND a.day = p.start \
           WHERE p.kind = 'day' AND p.user_id IN (SELECT value FROM json_each(?)) \
             AND p.department <> coalesce(u.department, '') \
           GROUP BY p.start, p.department, coalesce(u.department, '')) \
         INSERT INTO analytics_department_days (day, department, messages, reactions) \
         SELECT day, counted, -messages, -reactions FROM s WHERE true \
         UNION ALL SELECT day, now, messages, reactions FROM s WHERE true \
         ON CONFLICT (day, department) DO UPDATE SET \
           messages = messages + excluded.messages, reactions = reactions + excluded.reactions",
        std::slice::from_ref(&people),
    )?;
    db.execute(
        &format!(
            "INSERT INTO analytics_period_members (kind, start, department, members) \
             SELECT p.kind, p.start, p.department, -1 {MISPLACED} \
             UNION ALL SELECT p.kind, p.start, coalesce(u.department, ''), 1 {MISPLACED} \
             ON CONFLICT (kind, start, department) DO UPDATE SET members = members + excluded.members"
        ),
        &[people.clone(), people.clone()],
    )?;
    db.execute(
        "UPDATE analytics_member_periods SET department = \
           (SELECT coalesce(u.department, '') FROM users u WHERE u.id = analytics_member_periods.user_id) \
         WHERE user_id IN (SELECT value FROM json_each(?))",
        &[people],
    )?;
    Ok(i64::try_from(ids.len()).unwrap_or(i64::MAX))
}

/// What a message and a reaction count for, as rows of `(chat_id, day,
/// user_id, messages, thread_messages, reactions, thread_reactions)`, by
/// the rules of [`super`] (people only, shared chats only, no system
/// messages). The messages come from `messages_from` (which binds `m`) and
/// are narrowed by `messages_where`; the reactions from `reactions_from`
/// (which binds `r` with `user_id` and `created_at`, and `m`, their
/// message) narrowed by `reactions_where`. The rebuild reads the tables;
/// the intake reads ranges of them, or the journal.
pub fn counted_rows(
    messages_from: &str,
    messages_where: &str,
    reactions_from: &str,
    reactions_where: &str,
) -> String {
    let message_day = local_day_sql("m.created_at");
    let reaction_day = local_day_sql("r.created_at");
    format!(
        "SELECT m.root_chat_id AS chat_id, {message_day} AS day, m.user_id AS user_id, \
                m.entity_type = 'discussion' AS messages, m.entity_type = 'thread' AS thread_messages, \
                0 AS reactions, 0 AS thread_reactions \
         {messages_from} JOIN users u ON u.id = m.user_id AND u.bot = 0 \
         JOIN chats c ON c.id = m.root_chat_id AND c.personal = 0 \
         WHERE m.system = 0 AND m.entity_type <> 'user' AND {messages_where} \
         UNION ALL \
         SELECT m.root_chat_id, {reaction_day}, r.user_id, 0, 0, \
                m.entity_type = 'discussion', m.entity_type = 'thread' \
         {reactions_from} JOIN users u ON u.id = r.user_id AND u.bot = 0 \
         JOIN chats c ON c.id = m.root_chat_id AND c.personal = 0 \
         WHERE m.entity_type <> 'user' AND {reactions_where}"
    )
}

/// `rows` ([`counted_rows`]) summed per (chat, day, member).
pub fn summed(rows: &str) -> String {
    format!(
        "SELECT chat_id, day, user_id, sum(messages), sum(thread_messages), sum(reactions), \
         sum(thread_reactions) FROM ({rows}) WHERE true GROUP BY chat_id, day, user_id"
    )
}

/// Folds in the first `step` journal entries (deletions and removals): the
/// figures of those the watermarks say were counted leave their rows, and
/// rows left with nothing are deleted (the cascade takes both). Entries
/// about rows never counted are dropped: such a row is read as deleted, or
/// not at all, when its id comes. Returns the entries folded in.
fn fold_journal(db: &dyn Db, marks: &Marks, step: i64) -> Result<i64> {
    let upto = db
        .query_row(
            "SELECT id FROM analytics_journal ORDER BY id LIMIT 1 OFFSET ?",
            &[(step - 1).max(0).into()],
        )?
        .map(|r| r.i64(0))
        .transpose()?
        .unwrap_or(i64::MAX);
    db.execute("DELETE FROM temp.analytics_deltas", &[])?;
    let rows = counted_rows(
        "FROM analytics_journal j JOIN messages m ON m.id = j.message_id",
        "j.kind = 'message_deleted' AND j.id <= ?1 AND j.message_id <= ?2",
        "FROM analytics_journal r JOIN messages m ON m.id = r.message_id",
        "r.kind = 'reaction_removed' AND r.id <= ?1 AND r.reaction_id <= ?3",
    );
    db.execute(
        &format!(
            "INSERT INTO temp.analytics_deltas \
             (chat_id, day, user_id, messages, thread_messages, reactions, thread_reactions) {}",
            summed(&rows)
        ),
        &[
            upto.into(),
            marks.messages_seen.into(),
            marks.reactions_seen.into(),
        ],
    )?;
    db.execute(
        "UPDATE analytics_activity SET \
           messages = analytics_activity.messages - d.messages, \
           thread_messages = analytics_activity.thread_messages - d.thread_messages, \
           reactions = analytics_activity.reactions - d.reactions, \
           thread_reactions = analytics_activity.thread_reactions - d.thread_reactions \
         FROM temp.analytics_deltas d \
         WHERE analytics_activity.chat_id = d.chat_id AND analytics_activity.day = d.day \
           AND analytics_activity.user_id = d.user_id",
        &[],
    )?;
    db.execute(
        "DELETE FROM analytics_activity \
         WHERE (chat_id, day, user_id) IN (SELECT chat_id, day, user_id FROM temp.analytics_deltas) \
           AND messages = 0 AND thread_messages = 0 AND reactions = 0 AND thread_reactions = 0",
        &[],
    )?;
    db.execute(
        "DELETE FROM analytics_journal WHERE id <= ?",
        &[upto.into()],
    )?;
    Ok(i64::try_from(db.changes()).unwrap_or(i64::MAX))
}

/// Adds the messages with ids in `(messages_seen, messages_to]` that are
/// not deleted, and the reactions with ids in `(reactions_seen,
/// reactions_to]` that exist, to their rows (the cascade takes the rest).
fn add_activity(db: &dyn Db, marks: &Marks, messages_to: i64, reactions_to: i64) -> Result<()> {
    if messages_to <= marks.messages_seen && reactions_to <= marks.reactions_seen {
        return Ok(());
    }
    let rows = counted_rows(
        "FROM messages m",
        "m.id > ?1 AND m.id <= ?2 AND m.deleted_at IS NULL",
        "FROM reactions r JOIN messages m ON m.id = r.message_id",
        "r.id > ?3 AND r.id <= ?4",
    );
    db.execute(
        &format!(
            "INSERT INTO analytics_activity \
             (chat_id, day, user_id, messages, thread_messages, reactions, thread_reactions) {} \
             ON CONFLICT (chat_id, day, user_id) DO UPDATE SET \
               messages = messages + excluded.messages, \
               thread_messages = thread_messages + excluded.thread_messages, \
               reactions = reactions + excluded.reactions, \
               thread_reactions = thread_reactions + excluded.thread_reactions",
            summed(&rows)
        ),
        &[
            marks.messages_seen.into(),
            messages_to.into(),
            marks.reactions_seen.into(),
            reactions_to.into(),
        ],
    )?;
    Ok(())
}

/// Adds the membership changes with ids in `(from, to]` to their chats'
/// days.
fn add_memberships(db: &dyn Db, from: i64, to: i64) -> Result<()> {
    if to <= from {
        return Ok(());
    }
    let day = local_day_sql("x.created_at");
    db.execute(
        &format!(
            "INSERT INTO analytics_chat_days (chat_id, day, joins, self_joins, leaves) \
             SELECT x.chat_id, {day} AS d, sum(x.change = 'join'), \
                    sum(x.change = 'join' AND x.self_initiated = 1), sum(x.change = 'leave') \
             FROM chat_membership_changes x WHERE x.id > ? AND x.id <= ? GROUP BY x.chat_id, d \
             ON CONFLICT (chat_id, day) DO UPDATE SET \
               joins = joins + excluded.joins, self_joins = self_joins + excluded.self_joins, \
               leaves = leaves + excluded.leaves"
        ),
        &[from.into(), to.into()],
    )?;
    Ok(())
}
