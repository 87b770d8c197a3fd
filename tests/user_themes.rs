//! Themes from the user's config directory and from a file path. Its own test binary: it sets
//! environment variables, which no other test may read at the same time.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

use clusterscope::ui::terminal::{theme_sources, UiOptions};
use clusterscope::ui::theme::ThemeSet;

const MINE: &str = "name = \"mine\"\ntext = \"#102030\"\n";

/// One test for everything that reads the environment, so nothing races it.
#[test]
fn user_themes_come_from_the_config_directory_and_from_a_file() {
    let home = tempfile::tempdir().unwrap();
    let themes = home.path().join("clusterscope").join("themes");
    std::fs::create_dir_all(&themes).unwrap();
    std::fs::write(themes.join("mine.toml"), MINE).unwrap();
    std::env::set_var("XDG_CONFIG_HOME", home.path());
    let opts = UiOptions { theme: Some("mine".into()), ..UiOptions::default() };
    let (dirs, files, initial) = theme_sources(&opts);
    assert!(dirs.contains(&themes), "{dirs:?}");
    let (set, warnings) = ThemeSet::load_from(&dirs, &files, initial.as_deref(), false);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(set.current().name(), "mine");

    // Without XDG_CONFIG_HOME, ~/.config is the config directory.
    std::env::remove_var("XDG_CONFIG_HOME");
    let fake_home = tempfile::tempdir().unwrap();
    let dot_config = fake_home.path().join(".config").join("clusterscope").join("themes");
    std::fs::create_dir_all(&dot_config).unwrap();
    std::env::set_var("HOME", fake_home.path());
    let (dirs, _, _) = theme_sources(&opts);
    assert!(dirs.contains(&dot_config), "{dirs:?}");

    // A theme file by path, from any directory.
    let elsewhere = tempfile::tempdir().unwrap();
    let file = elsewhere.path().join("paper.toml");
    std::fs::write(&file, MINE.replace("mine", "paper")).unwrap();
    let opts = UiOptions { theme: Some(file.display().to_string()), ..UiOptions::default() };
    let (dirs, files, initial) = theme_sources(&opts);
    let (set, warnings) = ThemeSet::load_from(&dirs, &files, initial.as_deref(), false);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(set.current().name(), "paper");
}
