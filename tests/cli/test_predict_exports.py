"""fexlab predict's --blendshapes-csv and --blendshapes-json on a photo with several faces."""

import csv
import json

from PIL import Image

from fexlab.cli import main


def test_a_photo_with_two_faces_exports_a_row_and_an_entry_per_face(capsys, two_faces, tmp_path):
    photo = tmp_path / "two.png"
    Image.fromarray(two_faces).save(photo)
    csv_path, json_path = tmp_path / "two.csv", tmp_path / "two.json"
    code = main(["predict", str(photo), "--json", "--analyzer", "face_mesh", "--blendshapes-csv", str(csv_path),
                 "--blendshapes-json", str(json_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    faces = json.loads(out)[0]["faces"]
    assert len(faces) == 2
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 2 and {row["Timecode"] for row in rows} == {"00:00:00:00.000"}
    for face, row in zip(faces, rows):
        assert abs(float(row["JawOpen"]) - face["blendshapes"]["jawOpen"]) < 1e-5
    data = json.loads(json_path.read_text())
    assert "fps" not in data and [entry["face"] for entry in data["faces"]] == [1, 2]
    assert [entry["box"] for entry in data["faces"]] == [face["box"] for face in faces]


def test_the_default_classifier_is_the_fused_one_where_the_face_mesh_runs_anyway():
    from fexlab.cli import build_parser
    from fexlab.cli.predict import _classifier_specs

    def specs(*extra):
        return _classifier_specs(build_parser().parse_args(["predict", "photo.jpg", *extra]))

    assert specs() == ["efficientnet"]
    assert specs("--analyzer", "face_mesh") == ["ensemble.geometry"] == specs("--blendshapes-csv", "x.csv")
    assert specs("--analyzer", "face_mesh", "--classifier", "mini_xception") == ["mini_xception"]
