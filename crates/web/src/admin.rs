//! Accounts made from the command line (`icsrange admin create`) and the demo's run.

use range::journal::{Action, Actor};

use crate::{App, auth, platform};

/// Why an account or the demo could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("an account named `{0}` exists already")]
    Exists(String),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Start(#[from] platform::StartError),
    #[error("the built-in ukraine2015 does not load")]
    Builtin,
    #[error("no free address block")]
    NoBlock,
    #[error("the run did not start")]
    NotStarted,
    #[error("the account `{0}` was not found after it was made")]
    Lost(String),
}

/// A new account with a generated password (printed once by the caller).
pub async fn create_user(app: &App, name: &str, admin: bool, staff: bool) -> Result<String, AdminError> {
    let password = auth::new_password();
    let user = store::User {
        id: auth::token(8),
        name: name.to_string(),
        org: None,
        hash: auth::hash_password(&password),
        admin,
        staff,
        disabled: false,
    };
    app.store.create_user(&user, crate::now_s()).await.map_err(|e| match e {
        store::Error::Conflict => AdminError::Exists(name.to_string()),
        e => AdminError::Store(e),
    })?;
    Ok(password)
}

/// Who the demo made, to print.
#[derive(Debug)]
pub struct Demo {
    pub run: String,
    /// (what, name, password, page)
    pub accounts: Vec<(String, String, String, String)>,
    /// The pace it runs at.
    pub speed: f64,
}

/// One run of Ukraine 2015 with two teams, an instructor and one trainee per team, started.
pub async fn demo(app: &App, speed: Option<f64>) -> Result<Demo, AdminError> {
    // Names free in this database (a second demo in the same folder gets its own).
    let suffix = if app.store.user_by_name("instructor").await?.is_some() {
        format!("-{}", &auth::token(2))
    } else {
        String::new()
    };
    let instructor = format!("instructor{suffix}");
    let ipw = create_user(app, &instructor, false, true).await?;
    let iid =
        app.store.user_by_name(&instructor).await?.ok_or_else(|| AdminError::Lost(instructor.clone()))?.id;
    let text = exercise::catalogue::exercise("ukraine2015").ok_or(AdminError::Builtin)?;
    // The exercise's own compression unless a pace was asked for.
    let compression = exercise::load(text, &exercise::catalogue::Builtin)
        .map_err(|_| AdminError::Builtin)?
        .time_compression;
    let speed = speed.unwrap_or(compression);
    let run = store::Run {
        id: auth::token(8),
        name: format!("Ukraine 2015 demo{suffix}"),
        exercise: "ukraine2015".into(),
        exercise_text: text.to_string(),
        files: "{}".into(),
        seed: 1,
        speed,
        status: store::RunStatus::Draft,
        start_ms: (crate::now_s() * 1000 - devices::recloser::DNP3_EPOCH_OFFSET_MS as i64).max(0),
        created_by: iid,
        rules: store::Run::RULES,
    };
    app.store.create_run(&run, crate::now_s()).await?;
    let mut accounts = vec![("instructor".to_string(), instructor, ipw, format!("/runs/{}", run.id))];
    let mut teams = Vec::new();
    for name in ["Blue", "Red"] {
        let team = platform::new_team(app, &run, name).await.map_err(|_| AdminError::NoBlock)?;
        let trainee = format!("{}1{suffix}", name.to_lowercase());
        let pw = create_user(app, &trainee, false, false).await?;
        let uid =
            app.store.user_by_name(&trainee).await?.ok_or_else(|| AdminError::Lost(trainee.clone()))?.id;
        app.store.add_member(&run.id, &team.id, &uid, store::TeamRole::Lead).await?;
        accounts.push((format!("trainee, team {name}"), trainee, pw, format!("/teams/{}", team.id)));
        teams.push(team);
    }
    for team in &teams {
        let tr = platform::start_team(app, &run, team, &[], false).await?;
        tr.act(Actor::Instructor { name: "demo".into() }, Action::Resume)
            .await
            .map_err(|_| AdminError::NotStarted)?;
    }
    app.store.set_run_status(&run.id, store::RunStatus::Running, speed).await?;
    Ok(Demo { run: run.id, accounts, speed })
}
