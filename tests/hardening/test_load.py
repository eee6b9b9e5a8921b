"""Load on loopback: 50 concurrent predict requests through gradio_client, all answered correctly.

The count and the time are bounded: 50 requests, each waited for at most 240 s, on 127.0.0.1 only.
The queue holds them (its size is 64) and runs CONCURRENCY at a time.
"""

import pytest
from gradio_client import Client, handle_file

from fexlab.app import demo as app

REQUESTS = 50


@pytest.fixture(scope="module")
def client(registry):
    assert app.QUEUE_SIZE >= REQUESTS
    demo = app.build_demo(registry)
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    assert url.startswith("http://127.0.0.1:")
    yield Client(url, verbose=False)
    demo.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_fifty_concurrent_predictions_are_all_answered_correctly(client, astronaut_path, hopper_path):
    photos = [astronaut_path, hopper_path]
    jobs = [client.submit(handle_file(str(photos[i % 2])), ["mini_xception"], "haar", api_name="/predict")
            for i in range(REQUESTS)]
    answers = [job.result(timeout=240) for job in jobs]
    assert len(answers) == REQUESTS
    for i, (gallery, _, result, message, *_) in enumerate(answers):
        assert len(result["faces"]) == 1 and "1 face found" in message and len(gallery) == 1
        if photos[i % 2] == astronaut_path:
            assert result["faces"][0]["emotion"] == "happy"
    boxes = {tuple(answer[2]["faces"][0]["box"]) for answer in answers[::2]}
    assert len(boxes) == 1  # every request for the same photo got the same answer
