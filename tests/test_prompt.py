import json

from aigve.aspects import ASPECTS, RELEASED_KEYS
from aigve.prompt import build_instruction, build_messages, format_answer


def test_instruction_lists_all_aspects_and_ends_with_prompt():
    text = build_instruction("a cat surfing")
    for key in RELEASED_KEYS:
        assert f"{key}:" in text
    assert "element_presence:" not in text  # released model was trained on its own spelling
    assert text.endswith("The video instruction is: a cat surfing")
    assert "JSON" in text and "0 to 5" in text
    canonical = build_instruction("x", released_keys=False)
    assert "element_presence:" in canonical and "element_presentence" not in canonical


def test_messages_put_video_before_text():
    msgs = build_messages("p", video="clip.mp4")
    assert msgs[0]["role"] == "system"
    content = msgs[1]["content"]
    assert content[0] == {"type": "video", "video": "clip.mp4"} and content[1]["type"] == "text"


def test_answer_comment_before_score_and_scores_only_without_comments():
    scores = {a.key: i % 6 for i, a in enumerate(ASPECTS)}
    comments = {a.key: f"about {a.key}" for a in ASPECTS}
    text = format_answer(scores, comments)
    data = json.loads(text)
    assert list(data) == list(RELEASED_KEYS)
    assert list(data["physics"]) == ["comment", "score"]
    assert text.index('"comment"') < text.index('"score"')
    bare = json.loads(format_answer(scores))
    assert bare["overall"] == {"score": scores["overall"]}
    partial = json.loads(format_answer({"physics": 3}))
    assert list(partial) == ["physics"]
