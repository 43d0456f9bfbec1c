//! One connection to the state database, owned by a thread of its own.
//!
//! `postgres`'s client blocks on a private async runtime, which panics when called from a
//! thread that already drives one (the server's HTTP and DHCP tasks). So the connection lives
//! on a plain thread; callers hand it a job and wait for the answer, at most [`ANSWER_LIMIT`].
//! A connection that broke is opened again for the next job, so a database restart costs the
//! requests made while it was down, not the server.

use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

use super::{schema, PgError, StateUrl};

/// How long opening a connection may take (unless the URL sets `connect_timeout`).
const CONNECT_LIMIT: Duration = Duration::from_secs(3);
/// Server-side limits: a statement or a lock wait that takes longer fails, so a stuck peer
/// costs one request an error instead of queueing every later one behind it.
const SESSION_OPTIONS: &str = "-c statement_timeout=5000 -c lock_timeout=3000";
/// How long a caller waits for its job; later it gets an error, and the job is skipped.
const ANSWER_LIMIT: Duration = Duration::from_secs(10);

/// What a job can fail with; [`Db::run`] adds the database's name.
#[derive(Debug)]
pub enum JobError {
    Connect(postgres::Error),
    Query(postgres::Error),
    /// A row that does not hold what netboot writes.
    Damaged(String),
    /// The tables were made by another netboot version.
    Schema {
        found: i32,
        known: i32,
    },
}

impl From<postgres::Error> for JobError {
    fn from(e: postgres::Error) -> JobError {
        JobError::Query(e)
    }
}

/// Returns whether the connection broke under it (so the next job opens a new one).
type Job = Box<dyn FnOnce(Result<&mut Client, postgres::Error>) -> bool + Send>;

/// A handle to the connection thread; cheap to clone, every clone queues on the same thread.
#[derive(Clone, Debug)]
pub struct Db {
    /// Shared: a parsed URL is large, and every store holds one.
    url: Arc<StateUrl>,
    jobs: mpsc::Sender<Job>,
}

impl Db {
    /// Connects and creates netboot's tables if they are missing. A database that cannot be
    /// reached fails here, named by its URL.
    pub fn open(url: &StateUrl) -> Result<Db, PgError> {
        let mut config = url.config().clone();
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_LIMIT);
        }
        let options = match config.get_options() {
            Some(own) => format!("{own} {SESSION_OPTIONS}"),
            None => SESSION_OPTIONS.to_string(),
        };
        config.options(&options);
        if config.get_application_name().is_none() {
            config.application_name("netboot");
        }
        let (jobs, queue) = mpsc::channel::<Job>();
        let (opened, first) = mpsc::channel();
        std::thread::Builder::new()
            .name("state-db".into())
            .spawn(move || {
                let mut client = match config.connect(NoTls) {
                    Ok(client) => Some(client),
                    Err(e) => {
                        let _ = opened.send(Err(e));
                        return;
                    }
                };
                let _ = opened.send(Ok(()));
                for job in queue {
                    if !matches!(&client, Some(c) if !c.is_closed()) {
                        client = None;
                    }
                    let connected = match &mut client {
                        Some(c) => Ok(c),
                        None => match config.connect(NoTls) {
                            Ok(c) => Ok(client.insert(c)),
                            Err(e) => Err(e),
                        },
                    };
                    if job(connected) {
                        client = None;
                    }
                }
            })
            .map_err(|e| PgError::Gone {
                url: format!("{url} ({e})"),
            })?;
        let connected = first
            .recv_timeout(ANSWER_LIMIT)
            .map_err(|_| PgError::Timeout {
                url: url.to_string(),
                secs: ANSWER_LIMIT.as_secs(),
            })?;
        connected.map_err(|source| PgError::Connect {
            url: url.to_string(),
            source,
        })?;
        let db = Db {
            url: Arc::new(url.clone()),
            jobs,
        };
        db.run(schema::ensure)?;
        Ok(db)
    }

    /// The database, for log lines (password redacted).
    pub fn url(&self) -> &StateUrl {
        &self.url
    }

    /// Runs `job` on the connection thread and returns its answer. A job still queued when
    /// its caller stopped waiting is skipped: nobody would hear what it did.
    pub fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Client) -> Result<T, JobError> + Send + 'static,
    ) -> Result<T, PgError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let deadline = Instant::now() + ANSWER_LIMIT;
        let job: Job = Box::new(move |client| {
            if Instant::now() >= deadline {
                return false;
            }
            let done = client.map_err(JobError::Connect).and_then(job);
            // Anything but an ordinary SQL error (a socket that failed, a server that ended
            // the session with FATAL on shutdown): `is_closed` may not know yet, so the
            // connection is not trusted again.
            let broken = match &done {
                // (Not `is_none_or`: the workspace builds with Rust 1.80.)
                Err(JobError::Query(e)) => match e.as_db_error() {
                    Some(db) => db.parsed_severity() != Some(postgres::error::Severity::Error),
                    None => true,
                },
                _ => false,
            };
            let _ = reply.send(done);
            broken
        });
        let url = || self.url.to_string();
        self.jobs
            .send(job)
            .map_err(|_| PgError::Gone { url: url() })?;
        let done = match answer.recv_timeout(ANSWER_LIMIT) {
            Ok(done) => done,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(PgError::Timeout {
                    url: url(),
                    secs: ANSWER_LIMIT.as_secs(),
                })
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(PgError::Gone { url: url() }),
        };
        done.map_err(|e| match e {
            JobError::Connect(source) => PgError::Connect { url: url(), source },
            JobError::Query(source) => PgError::Query { url: url(), source },
            JobError::Damaged(why) => PgError::Damaged { url: url(), why },
            JobError::Schema { found, known } => PgError::Schema {
                url: url(),
                found,
                known,
            },
        })
    }
}
