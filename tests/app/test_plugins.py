from fexlab.app.common import app_detail, unavailable_note
from fexlab.app.plugins import plugin_table
from fexlab.eval.harness import _parameters


def test_why_hints_say_what_to_type_in_the_app_not_the_cli_spec(registry, without_fexlab_tags):
    note = unavailable_note(registry, "classifier")
    assert "**convnext** (needs weights)" in note
    assert "convnext:runs/convnext" not in note and "--checkpoint" not in note
    assert "type its folder (`runs/convnext`) into **Your model**" in note and "the **Train** tab" in note
    rows = {row[1]: row for row in plugin_table(registry)}
    assert "vit:runs/vit" not in rows["vit"][4] and "type its folder (`runs/vit`) into **Your model**" in rows["vit"][4]
    cli = "train one with `fexlab train cgan` and load it as `cgan:runs/cgan` (or `--checkpoint runs/cgan`)"
    assert app_detail("generator", cli) == ("train one with `fexlab train cgan` and type its folder (`runs/cgan`) "
                                           "into **Your generator**")
    assert app_detail("detector", "no weights needed") == "no weights needed"


def test_the_parameter_count_says_which_count_it_is_and_matches_the_evaluation(registry):
    rows = {row[1]: row for row in plugin_table(registry)}
    learned = _parameters(registry.classifier("mini_xception"))  # what the leaderboard's column counts
    assert f"{round(learned / 1000)}k learned parameters" in rows["mini_xception"][3]
    from fexlab.app.evaluate import _CLASSIFIER_COLUMNS

    assert _CLASSIFIER_COLUMNS["parameters"] == "learned parameters"


def test_no_server_path_shows_in_the_plugins_table(registry):
    from fexlab.app.common import PACKAGE_DIR

    details = [row[4] for row in plugin_table(registry)]
    assert not [d for d in details if str(PACKAGE_DIR) in d or "../" in d]
    assert any("weights at plugins/mini_xception/weights/" in d for d in details)


def test_messages_name_data_sets_and_folders_not_server_paths(folders):
    import gradio as gr
    import pytest

    from fexlab.app.common import PACKAGE_DIR, public_paths, user_errors
    from fexlab.registry import InputError

    data = ("FER+ majority labels ../shared/data/fer2013/ferplus_votes.csv (contempt dropped); source "
            "'../shared/data/fer2013/ferplus_votes.csv', train split, 22167 faces")
    assert public_paths(data) == "FER+ majority labels fer2013/ferplus_votes.csv (contempt dropped), train split, 22167 faces"
    assert public_paths(f"weights at {PACKAGE_DIR}/plugins/cgan/weights/fer2013") == "weights at plugins/cgan/weights/fer2013"
    assert public_paths(f"no run at {folders['runs']}/mine.") == "no run at runs/mine."
    assert public_paths("see https://huggingface.co/owner/name") == "see https://huggingface.co/owner/name"
    assert public_paths("'/etc' and '../outside' are outside") == "'/etc' and '../outside' are outside"  # as typed

    @user_errors
    def fails():
        raise InputError(f"'{folders['data']}/faces/x.csv' is not a data set")

    with pytest.raises(gr.Error) as error:
        fails()
    assert error.value.message == "'data/faces/x.csv' is not a data set"


def test_the_guide_names_every_plugin_kind_with_its_base_class_and_entry_point_group():
    from fexlab.app.plugins import GUIDE
    from fexlab.registry.registry import KINDS

    for kind in KINDS:
        row = next((line for line in GUIDE.splitlines() if line.strip().startswith(f"| {kind} |")), "")
        assert f"`fexlab.{kind}s`" in row, kind


def test_a_typed_path_is_quoted_as_typed(folders):
    import gradio as gr
    import pytest

    from fexlab.app.common import user_errors
    from fexlab.registry.paths import resolve_user_path

    checked = user_errors(lambda typed: resolve_user_path(typed, must_exist=True))
    for typed in ("../shared/data/fer2013", "../../../etc", "/etc/ssl/certs/deep/down"):
        with pytest.raises(gr.Error) as error:
            checked(typed)
        assert error.value.message.startswith(f"'{typed}' is outside the folders this app may read and write (data, ")
    with pytest.raises(gr.Error) as error:
        checked("no/such/file/at/all.csv")
    assert error.value.message == "'no/such/file/at/all.csv': no such file or folder"
