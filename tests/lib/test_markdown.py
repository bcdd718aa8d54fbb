from __future__ import annotations

from oasst.lib.markdown import render_markdown


def test_renders_commonmark_tables_and_strikethrough() -> None:
    html = render_markdown("# Title\n\n*a* **b** ~~c~~\n\n| x | y |\n|---|---|\n| 1 | 2 |\n")
    assert "<h1>Title</h1>" in html
    assert "<em>a</em>" in html and "<strong>b</strong>" in html
    assert "<s>c</s>" in html or "<del>c</del>" in html
    assert "<table>" in html and "<td>1</td>" in html


def test_raw_html_and_scripts_never_survive() -> None:
    html = render_markdown('<script>alert(1)</script> <img src=x onerror="alert(1)">')
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_links_are_nofollow_and_javascript_urls_dropped() -> None:
    html = render_markdown("[ok](https://example.org) [bad](javascript:alert(1))")
    assert 'href="https://example.org"' in html
    assert 'rel="nofollow noopener noreferrer"' in html
    assert 'href="javascript' not in html


def test_code_blocks_keep_their_text() -> None:
    html = render_markdown("```python\nprint('<b>')\n```")
    assert "<pre><code" in html and "&lt;b&gt;" in html


def test_empty_text() -> None:
    assert render_markdown("") == ""


def test_markdown_renders_emphasis_lists_and_code() -> None:
    html = render_markdown("**bold**\n\n- a\n- b\n\n```python\nprint(1)\n```")
    assert "<strong>bold</strong>" in html
    assert "<li>a</li>" in html
    assert '<code class="language-python">print(1)' in html


def test_markdown_never_lets_script_through() -> None:
    html = render_markdown(
        '<script>alert(1)</script> <img src=x onerror="alert(1)"> '
        "[click](javascript:alert(1)) ![x](javascript:alert(2))"
    )
    assert "<script" not in html
    assert "<img src=" not in html  # typed HTML is shown as text, never as a tag
    assert "&lt;img" in html
    assert 'href="javascript' not in html
    assert 'src="javascript' not in html


def test_markdown_links_get_rel_nofollow() -> None:
    html = render_markdown("[site](https://example.org)")
    assert 'href="https://example.org"' in html
    assert "nofollow" in html


def test_unfinished_markdown_renders_safely() -> None:
    html = render_markdown("```python\nprint('<b>")
    assert "&lt;b&gt;" in html
