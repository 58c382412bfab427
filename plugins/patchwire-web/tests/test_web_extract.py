"""Extraction from real HTML: title, main text, links, CSS selections."""

from __future__ import annotations

from patchwire_web.extract import Page, selector_error


def test_main_text_keeps_paragraphs_and_sentences_and_drops_chrome_and_scripts(
    article_html: str,
) -> None:
    text = Page(article_html).main_text()
    assert text.splitlines()[:2] == [
        "Tools behind one interface",
        "Every call goes through the pipeline, retries included.",
    ]
    assert "Second paragraph." in text
    for noise in ("never in the text", "Site footer", "About", "color: red"):
        assert noise not in text


def test_without_a_main_container_the_body_minus_header_and_footer_is_used() -> None:
    html = (
        "<html><body><header>Top</header><p>Content here</p><footer>Bottom</footer></body></html>"
    )
    assert Page(html).main_text() == "Content here"


def test_links_are_absolute_unique_http_and_without_fragments(article_html: str) -> None:
    links = Page(article_html).links("http://site.example/news/article")
    urls = [link["url"] for link in links]
    assert urls == [
        "http://site.example/",
        "http://site.example/about",
        "http://site.example/contact",
        "http://site.example/pipeline",
        "https://example.org/elsewhere",
    ]
    assert links[3]["text"] == "pipeline"


def test_select_reports_first_and_every_match_and_names_what_matched_nothing(
    article_html: str,
) -> None:
    page = Page(article_html)
    found, missing = page.select(
        {"title": "h1.title", "lede": "p.lede", "byline": ".byline"}, {"prices": "li.price"}
    )
    assert found == {
        "title": "Tools behind one interface",
        "lede": "Every call goes through the pipeline, retries included.",
        "prices": ["3 EUR", "5 EUR"],
    }
    assert missing == ["byline (.byline)"]
    assert page.title() == "Patchwire news"


def test_selector_errors_are_reported() -> None:
    assert selector_error("h1.title") is None
    assert selector_error("h1..title") is not None
