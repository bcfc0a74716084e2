"""Lessons: guided tours through the lab. A lesson's step is at most three sentences beside the live
view it is about; on a predict step the student commits to a guess before the answer is shown beside
it. Next/Back (the → and ← keys) walk the steps; the lesson and step are kept in the URL
(`?lesson=denoising&step=3`), and `&present=1` shows the lesson's view alone, for a projector."""
import streamlit as st

from app import dataset_choice, settings
from app.lessons import LESSONS
from app.lessons.lesson import STYLE, StepContext

STEPS = "lesson_steps"  # session_state: lesson slug -> 0-based step, kept for the session
SLUGS = [les.slug for les in LESSONS]
BY_SLUG = {les.slug: les for les in LESSONS}


def _query_step(slug: str) -> int:
    """The URL's 1-based ?step= for lesson `slug`, as a 0-based index (0 if absent or invalid)."""
    try:
        return min(max(int(st.query_params.get("step", "1")) - 1, 0), len(BY_SLUG[slug].steps) - 1)
    except ValueError:
        return 0


def _go(slug: str, index: int) -> None:
    st.session_state["lesson_slug"] = slug
    st.session_state[STEPS][slug] = index


def _next(ctx: StepContext) -> None:
    """Next (→): reveal a guessed predict step first, then the next step, after the last one the next lesson."""
    if ctx.step.predict is not None and ctx.guess is not None and not ctx.revealed:
        ctx.reveal()
    elif ctx.index + 1 < len(ctx.lesson.steps):
        _go(ctx.lesson.slug, ctx.index + 1)
    elif (i := SLUGS.index(ctx.lesson.slug)) + 1 < len(SLUGS):
        _go(SLUGS[i + 1], st.session_state[STEPS].get(SLUGS[i + 1], 0))


def _back(ctx: StepContext) -> None:
    if ctx.index > 0:
        _go(ctx.lesson.slug, ctx.index - 1)


def step_buttons(ctx: StepContext) -> None:
    """Back and Next, with the ← and → keys."""
    last = ctx.index + 1 == len(ctx.lesson.steps)
    pending = ctx.step.predict is not None and ctx.guess is not None and not ctx.revealed
    next_label = "Reveal" if pending else "Next"
    cols = st.columns(2, gap="small")
    cols[0].button("Back", key="lesson-back", icon=":material/arrow_back:", shortcut="Left", width="stretch",
                   on_click=_back, args=(ctx,), disabled=ctx.index == 0)
    cols[1].button(next_label, key="lesson-next", icon=":material/arrow_forward:", icon_position="right",
                   shortcut="Right", type="primary", width="stretch", on_click=_next, args=(ctx,),
                   disabled=last and SLUGS.index(ctx.lesson.slug) + 1 == len(SLUGS) and not pending)


def _guess(ctx: StepContext, option: str) -> None:
    ctx.record_guess(option, rerun=False)


def predict_block(ctx: StepContext, horizontal: bool = False) -> None:
    """The question, one button per option (keys 1, 2, 3…) until revealed, then the guess beside the answer."""
    predict = ctx.step.predict
    st.markdown(f"**:material/help: {predict.prompt}**")
    if predict.options and not ctx.revealed:
        box = st.container(horizontal=horizontal, key="lesson-options")
        for i, option in enumerate(predict.options):
            chosen = ctx.guess == option
            box.button(option, key=ctx.key(f"option-{i}"), shortcut=str(i + 1), width="content" if horizontal
                       else "stretch", type="primary" if chosen else "secondary",
                       icon=":material/check:" if chosen else None, on_click=_guess, args=(ctx, option))
    if ctx.guess is None:
        st.caption("Commit to a guess" + (" (or press its number)" if predict.options else " on the view") +
                   "; the answer comes after.")
    elif not ctx.revealed:
        st.caption(f"Your guess: **{_shown(ctx.guess)}**. Press Reveal (→) to see the answer.")
    else:
        answer = predict.answer(ctx)
        box = st.container(key="lesson-answer")
        if answer is None:
            box.info("The answer is measured on the models: it appears once they are trained.")
        elif predict.options:
            right = ctx.guess == answer
            (box.success if right else box.warning)(
                f"Your guess: **{ctx.guess}** · Answer: **{answer}**" + (" — right." if right else "."),
                icon=":material/check_circle:" if right else ":material/info:")
        else:
            box.info(f"Your guess: **{_shown(ctx.guess)}** · {answer}")


def _shown(guess) -> str:
    if isinstance(guess, (list, tuple)) and all(isinstance(v, float) for v in guess):
        return "(" + ", ".join(f"{v:.2f}" for v in guess) + ")"
    return str(guess)


settings.init_from_query("lesson_slug", "lesson", SLUGS[0], choices=SLUGS)
settings.init_from_query("lesson_present", "present", False, cast=lambda v: v in ("1", "true", "on"),
                         choices=[False, True])
if STEPS not in st.session_state:  # the URL's step counts once, for the lesson it names
    st.session_state[STEPS] = {st.session_state["lesson_slug"]: _query_step(st.session_state["lesson_slug"])}
presenting = st.session_state["lesson_present"]
st.html(f"<style>{STYLE}</style>")
if presenting:  # the view alone: no sidebar, no header
    # Pictures at most the screen's height less the heading and question above them: the view fits a projector.
    st.html("<style>[data-testid='stSidebar'], [data-testid='stSidebarCollapsedControl'], "
            "[data-testid='stHeader'] { display: none; } "
            "[data-testid='stMainBlockContainer'] { padding-top: 1rem; } "
            ".st-key-lesson-head h1 { font-size: 2rem; padding: 0; } "
            ".st-key-lesson-view [data-testid='stImage'] img { max-height: calc(100vh - 15rem); "
            "object-fit: contain; }</style>")

slug = st.session_state["lesson_slug"]
if not presenting:
    title_col, chooser_col = st.columns([1.1, 4], gap="small", vertical_alignment="bottom")
    with title_col.container(key="lesson-title"):  # one line, in the projector view's larger text too
        # compact lesson buttons: five fit one row beside the title at 1280 pixels with the sidebar open
        st.html("<style>.st-key-lesson-title h1 { white-space: nowrap; font-size: 2.4rem; } "
                ".st-key-lesson-chooser button { padding: 0.15rem 0.6rem; min-height: 2.1rem; } "
                ".st-key-lesson-chooser button p { font-size: 0.9rem; }</style>")
        st.title("Lessons")
    # Buttons, not a segmented control: a focused button group takes the ← and → keys for itself.
    with chooser_col.container(horizontal=True, gap="xsmall", key="lesson-chooser"):
        for i, other in enumerate(SLUGS):
            st.button(f"{i + 1} · {BY_SLUG[other].title}", key=f"lesson-choose-{other}",
                      type="primary" if other == slug else "secondary", on_click=_go,
                      args=(other, st.session_state[STEPS].get(other, 0)))
lesson = BY_SLUG[slug]
index = min(st.session_state[STEPS].setdefault(slug, 0), len(lesson.steps) - 1)
ctx = StepContext(lesson, index, dataset_choice.current_dataset(), presenting)
step = ctx.step
settings.set_query(lesson=slug, step=index + 1)
where = f"Step {index + 1} of {len(lesson.steps)} · {step.title}"

if presenting:
    st.query_params["present"] = "1"
    head, nav = st.columns([2.6, 1.4], gap="medium", vertical_alignment="center")
    with head.container(key="lesson-head"):
        st.markdown(f"# {lesson.title}: {step.title}")  # the page's one heading
    with nav:
        step_buttons(ctx)
    if step.predict is not None:
        predict_block(ctx, horizontal=True)
    with st.container(key="lesson-view"):
        step.view(ctx)
else:
    st.query_params.pop("present", None)
    text_col, view_col = st.columns([1.15, 2], gap="large")
    with text_col:
        if index == 0:  # the lesson's question once, where it starts: later steps need the room
            st.markdown(f"**{lesson.question}**")
        st.markdown(f"#### {where}")
        st.markdown(step.text)
        if step.predict is not None:
            predict_block(ctx)
        step_buttons(ctx)
        presenter = f"?lesson={slug}&step={index + 1}&present=1&projector=1&data={ctx.dataset}"
        st.caption(f"← and → walk the steps. [Presenter view]({presenter}): the view alone, large." +
                   (f" Follows source {lesson.source} (Classics)." if lesson.source else ""))
    with view_col, st.container(key="lesson-view"):
        step.view(ctx)
