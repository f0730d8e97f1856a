//! Host tier: service=mysql against Debian's mariadb-server and service=pgsql against Debian's
//! PostgreSQL 15, each run by the test in its own data directory inside the server namespace.
//! Up for a healthy server (IPv4 and IPv6); down for a stopped server, a query returning no
//! rows, a failing query, bad credentials, an unknown user or database and a black-holed
//! address (within negotiatetimeout). ldirectord's check_sql has no receive= (a query's rows
//! are its answer: rows > 0 is up), and neither do our mysql and pgsql checks.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use rha_check::{CheckSpec, Outcome, Service, Target};
use rha_harness::cmd::{Cmd, wait_for};
use support::Net;

/// Kills the server whose pid file this is (on every path: the namespace's own Drop kills
/// whatever is left in it too).
struct PidGuard(PathBuf);

impl PidGuard {
    fn stop(&self) {
        if let Ok(pid) = std::fs::read_to_string(&self.0)
            && let Some(pid) = pid.lines().next().and_then(|l| l.trim().parse::<i32>().ok())
        {
            // Quietly: on drop after an explicit stop, the pid is gone already.
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

impl Drop for PidGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spec(service: Service, login: &str, passwd: &str, db: &str, request: &str) -> CheckSpec {
    let mut s = CheckSpec::new(service);
    s.login = Some(login.into());
    s.passwd = Some(passwd.into());
    s.database = Some(db.into());
    s.request = Some(request.into());
    s.negotiate_timeout = Duration::from_secs(2);
    s
}

fn assert_up(net: &Net, spec: &CheckSpec, targets: &[Target]) {
    for t in targets {
        let out = net.check(spec, *t);
        assert!(out.up, "{t:?} {:?}: {out:?}", spec.login);
    }
}

fn assert_down(out: Outcome, want: &str) {
    assert!(!out.up, "{out:?}");
    assert!(out.reason.contains(want), "reason {:?} lacks {want:?}", out.reason);
}

/// The black hole costs the check its timeout, not more.
fn assert_blackholed(net: &Net, spec: &CheckSpec, target: Target) -> Result<()> {
    net.blackhole()?;
    let out = net.check(spec, target);
    net.unblackhole()?;
    assert_down(out.clone(), "timeout after 2 s connecting");
    assert!(out.latency < Duration::from_millis(2600), "{out:?}");
    Ok(())
}

fn start_mariadb(net: &Net, dir: &Path) -> Result<PidGuard> {
    let d = dir.display();
    Cmd::new("mariadb-install-db")
        .args([
            "--no-defaults",
            &format!("--datadir={d}/data"),
            "--user=root",
            "--skip-test-db",
            "--auth-root-authentication-method=socket",
        ])
        .timeout(Duration::from_secs(120))
        .run_ok()?;
    let guard = PidGuard(dir.join("mariadb.pid"));
    net.server.sh_ok(&format!(
        "setsid /usr/sbin/mariadbd --no-defaults --user=root --datadir={d}/data --socket={d}/sock \
         --pid-file={d}/mariadb.pid --port=3306 --bind-address='*' --skip-name-resolve \
         --log-error={d}/error.log >/dev/null 2>&1 </dev/null &"
    ))?;
    // MariaDB 10.11 sets IPV6_V6ONLY on a socket bound to an explicit `::` (so that `0.0.0.0`
    // can be bound beside it): `--bind-address=::` listens on IPv6 only and IPv4 connects are
    // refused. `*` is its "every address of both families": one socket each, two listeners.
    wait_for(
        "mariadbd's IPv4 and IPv6 listeners",
        Duration::from_secs(60),
        Duration::from_millis(50),
        || {
            let n = net
                .server
                .sh("ss -Hltn 'sport = :3306' | grep -c LISTEN")?
                .stdout
                .trim()
                .parse::<u32>()
                .unwrap_or(0);
            Ok((n >= 2).then_some(()))
        },
    )
    .with_context(|| std::fs::read_to_string(dir.join("error.log")).unwrap_or_default())?;
    let sql = "CREATE DATABASE shop; CREATE TABLE shop.health (ok INT); INSERT INTO shop.health VALUES (1); \
               CREATE TABLE shop.empty (ok INT); \
               CREATE USER 'checker'@'%' IDENTIFIED BY 's3cret pass'; GRANT SELECT ON shop.* TO 'checker'@'%';";
    Cmd::new("mariadb")
        .args(["--no-defaults", &format!("--socket={d}/sock"), "-uroot", "-e", sql])
        .timeout(Duration::from_secs(30))
        .run_ok()?;
    Ok(guard)
}

#[test]
fn mysql_against_mariadb() -> Result<()> {
    let net = Net::new("chkmysql")?;
    let dir = tempfile::tempdir()?;
    let server = start_mariadb(&net, dir.path())?;
    let (v4, v6) = (net.v4(3306), net.v6(3306));
    let good = spec(Service::Mysql, "checker", "s3cret pass", "shop", "SELECT * FROM health");
    assert_up(&net, &good, &[v4, v6]);
    // ldirectord drops a leading slash of the request.
    assert_up(&net, &spec(Service::Mysql, "checker", "s3cret pass", "shop", "/SELECT 1"), &[v4]);

    let empty = spec(Service::Mysql, "checker", "s3cret pass", "shop", "SELECT * FROM empty");
    assert_down(net.check(&empty, v6), "query returned 0 rows");
    let bad = spec(Service::Mysql, "checker", "wrong", "shop", "SELECT 1");
    assert_down(net.check(&bad, v4), "login refused: 1045 Access denied");
    assert_down(net.check(&bad, v6), "login refused: 1045 Access denied");
    let nouser = spec(Service::Mysql, "nobody", "s3cret pass", "shop", "SELECT 1");
    assert_down(net.check(&nouser, v4), "login refused: 1045 Access denied for user 'nobody'");
    let nodb = spec(Service::Mysql, "checker", "s3cret pass", "nosuch", "SELECT 1");
    assert_down(net.check(&nodb, v4), "login refused: 1044");
    let badq = spec(Service::Mysql, "checker", "s3cret pass", "shop", "SELECT * FROM nosuch");
    assert_down(net.check(&badq, v4), "query failed: 1146");

    assert_blackholed(&net, &good, v4)?;
    assert_blackholed(&net, &good, v6)?;
    assert_up(&net, &good, &[v4]);

    server.stop();
    net.wait_closed(3306, Duration::from_secs(30))?;
    assert_down(net.check(&good, v4), "connect refused");
    assert_down(net.check(&good, v6), "connect refused");
    Ok(())
}

fn start_postgres(net: &Net, dir: &Path) -> Result<PidGuard> {
    let bin = "/usr/lib/postgresql/15/bin";
    let data = dir.join("data");
    let d = dir.display();
    Cmd::new("chown").args(["postgres:postgres", &d.to_string()]).run_ok()?;
    Cmd::new("runuser")
        .args([
            "-u",
            "postgres",
            "--",
            &format!("{bin}/initdb"),
            "-D",
            &data.display().to_string(),
            "-A",
            "trust",
        ])
        .args(["--no-sync"])
        .timeout(Duration::from_secs(120))
        .run_ok()?;
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\n\
         host all md5user all md5\n\
         host all clearuser all password\n\
         host all trustuser all trust\n\
         host all all all scram-sha-256\n",
    )?;
    let guard = PidGuard(data.join("postmaster.pid"));
    net.server.sh_ok(&format!(
        "setsid runuser -u postgres -- {bin}/postgres -D {d}/data -c listen_addresses='*' -c port=5432 \
         -c unix_socket_directories={d} -c fsync=off >{d}/pg.log 2>&1 </dev/null &"
    ))?;
    net.wait_listening(5432, Duration::from_secs(60))
        .with_context(|| std::fs::read_to_string(dir.join("pg.log")).unwrap_or_default())?;
    let sql = "CREATE ROLE checker LOGIN PASSWORD 's3cret pass'; \
               SET password_encryption = 'md5'; CREATE ROLE md5user LOGIN PASSWORD 'md5 pass'; \
               RESET password_encryption; CREATE ROLE clearuser LOGIN PASSWORD 'clear pass'; \
               CREATE ROLE trustuser LOGIN; \
               CREATE DATABASE shop OWNER checker;";
    let psql = |db: &str, sql: &str| {
        Cmd::new("runuser")
            .args(["-u", "postgres", "--", &format!("{bin}/psql"), "-h", &d.to_string(), "-p", "5432"])
            .args(["-d", db, "-v", "ON_ERROR_STOP=1"])
            .args(["-c", sql])
            .timeout(Duration::from_secs(30))
            .run_ok()
    };
    for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        psql("postgres", stmt)?;
    }
    psql(
        "shop",
        "CREATE TABLE health (ok int); INSERT INTO health VALUES (1); CREATE TABLE empty (ok int); \
         GRANT SELECT ON health, empty TO PUBLIC;",
    )?;
    Ok(guard)
}

#[test]
fn pgsql_against_postgresql() -> Result<()> {
    let net = Net::new("chkpgsql")?;
    let dir = tempfile::tempdir()?;
    let server = start_postgres(&net, dir.path())?;
    let (v4, v6) = (net.v4(5432), net.v6(5432));
    // SCRAM-SHA-256 (Debian's default), md5, cleartext and trust logins.
    let good = spec(Service::Pgsql, "checker", "s3cret pass", "shop", "SELECT * FROM health");
    assert_up(&net, &good, &[v4, v6]);
    assert_up(&net, &spec(Service::Pgsql, "md5user", "md5 pass", "shop", "SELECT * FROM health"), &[v4, v6]);
    assert_up(&net, &spec(Service::Pgsql, "clearuser", "clear pass", "shop", "/SELECT 1"), &[v4]);
    assert_up(&net, &spec(Service::Pgsql, "trustuser", "", "shop", "SELECT 1"), &[v6]);

    let empty = spec(Service::Pgsql, "checker", "s3cret pass", "shop", "SELECT * FROM empty");
    assert_down(net.check(&empty, v4), "query returned 0 rows");
    let bad = spec(Service::Pgsql, "checker", "wrong", "shop", "SELECT 1");
    assert_down(net.check(&bad, v4), "login refused: 28P01 password authentication failed");
    let bad_md5 = spec(Service::Pgsql, "md5user", "wrong", "shop", "SELECT 1");
    assert_down(net.check(&bad_md5, v6), "login refused: 28P01");
    // An unknown role gets the same SCRAM exchange and the same refusal (PostgreSQL does not
    // say which roles exist).
    let nouser = spec(Service::Pgsql, "nobody", "s3cret pass", "shop", "SELECT 1");
    assert_down(
        net.check(&nouser, v4),
        "login refused: 28P01 password authentication failed for user \"nobody\"",
    );
    let nodb = spec(Service::Pgsql, "checker", "s3cret pass", "nosuch", "SELECT 1");
    assert_down(net.check(&nodb, v4), "login refused: 3D000");
    let badq = spec(Service::Pgsql, "checker", "s3cret pass", "shop", "SELECT * FROM nosuch");
    assert_down(net.check(&badq, v4), "query failed: 42P01");

    assert_blackholed(&net, &good, v4)?;
    assert_blackholed(&net, &good, v6)?;
    assert_up(&net, &good, &[v4]);

    server.stop();
    net.wait_closed(5432, Duration::from_secs(30))?;
    wait_for("postgres to be gone", Duration::from_secs(30), Duration::from_millis(50), || {
        Ok((!net.check(&good, v4).up).then_some(()))
    })?;
    assert_down(net.check(&good, v4), "connect refused");
    assert_down(net.check(&good, v6), "connect refused");
    Ok(())
}
