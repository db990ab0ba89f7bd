"""Word lists the offline extractor needs: small, English, and kept here so the rules stay readable.

No part-of-speech tagger is used (a model download and ~10x slower); these lists bound candidate
phrases instead: stop words and common verbs end a phrase, connectors may sit inside a name.
"""

from __future__ import annotations


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Function words, pronouns, auxiliaries, question words and discourse words. A phrase never
# starts or ends with one, and a capitalised one at a sentence start is not a name.
STOP_WORDS = _word_set(
    """
    a about above according across after afterwards again against all almost alone along already also
    although always am among amongst an and another any anybody anyone anything anyway anywhere are
    around as at away back be became because become becomes becoming been before beforehand behind
    being below beside besides between beyond both but by can cannot could did do does doing done
    down due during each either else elsewhere enough etc even ever every everybody everyone
    everything everywhere except few for former formerly from further furthermore had has have
    having he hence her here hereby herein hers herself him himself his how however i if in indeed
    instead into is it its itself just last latter least less let like likely many may maybe me
    meanwhile might mine more moreover most mostly much must my myself namely neither never
    nevertheless next no nobody none nor not nothing now nowhere of off often on once one only onto
    or other others otherwise our ours ourselves out over overall own per perhaps please quite rather
    really same several shall she should since so some somebody somehow someone something sometime
    sometimes somewhat somewhere still such than that the their theirs them themselves then there
    thereafter thereby therefore therein these they this those though through throughout thus to
    together too toward towards under unless until up upon us very via was we well were what
    whatever when whenever where whereas wherever whether which while who whoever whole whom whose
    why will with within without would yet you your yours yourself yourselves
    today yesterday tomorrow currently additionally finally first firstly second secondly third
    lastly later earlier soon ago including include includes included based known called named
    also near nearby inside outside
    two three four five six seven eight nine ten eleven twelve twenty hundred hundreds thousand
    thousands million millions billion billions dozen dozens
    """
)

# Capitalised words in STOP_WORDS end a name ("... World War I. The war ..."), except these, which
# are also parts of names ("World War I", "Theresa May", "Will Smith", "US Army").
NAME_SAFE_STOP_WORDS = _word_set("i may will us can much more last first second third")

# Frequent verb forms that regular suffix rules miss. They end a concept phrase
# ("makes the iPhone" must not give "make iphone"). Ambiguous noun/verb forms stay out.
VERBS = _word_set(
    """
    be is are was were been being am have has had do does did done make makes made making take takes
    took taken taking give gives gave given giving get gets got gotten getting go goes went gone
    going come comes came coming know knows knew known see sees saw seen say says said tell tells
    told find finds found think thinks thought become becomes became begin begins began begun
    bring brings brought buy buys bought build builds built choose chose chosen draw drew drawn drive
    drove driven eat ate eaten fall fell fallen feel felt fight fought fly flew flown forget forgot
    grow grew grown hold holds held keep keeps kept lead leads led leave leaves left lose lost
    meet meets met pay pays paid put puts run runs ran seek sought sell sells sold send sends sent
    set sets show shows shown sing sang sung sit sat speak spoke spoken spend spent stand stood
    teach taught win wins won write writes wrote written born died dies lived lives founded
    include includes contain contains require requires provide provides allow allows help helps
    mean means need needs want wants use uses used using get seem seems appear appears
    consider considered serve serves served remain remains remained continue continues continued
    located situated based called named known titled nicknamed released published produced directed
    submit submits ensure ensures receive receives obtain obtains describe describes explain explains
    discuss discusses prevent prevents enable enables involve involves consist consists belong belongs
    create creates develop develops establish establishes perform performs maintain maintains achieve
    achieves remove removes add adds affect affects seek seeks tend tends occur occurs exist exists
    refer refers relate relates depend depends operate operates represent represents compete competes
    covers became becomes contact contacts
    """
)

# Imperatives that open instructions ("Contact Dr. Jane Smith", "Ask HR"); at a sentence start they
# are not the first word of a name. Only checked there, so "Call of Duty" mid-sentence is unaffected.
SENTENCE_IMPERATIVES = _word_set(
    """
    contact ask email call visit see read check send submit use please note click go open select enter
    choose ensure make remember write join follow review complete fill sign attach upload download
    install update register apply refer talk speak tell let find
    """
)

# Lower-case words that may sit inside a proper name: "University of Texas", "Treaty on the
# Functioning of the European Union", "Leonardo da Vinci", "Ludwig van Beethoven".
NAME_CONNECTORS = _word_set(
    "of the on for de del della di da du des la le van von der den ter y al el bin ibn upon und et am im zu dos das do"
    " dei degli les los las"
)
# "and"/"&" join names too ("Procter and Gamble"), but more often join two names; both are kept.
NAME_CONJUNCTIONS = frozenset({"and", "&"})

# Capitalised words that are not entities on their own (dates make hub nodes that link unrelated text).
NOT_NAMES_ALONE = _word_set(
    """
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday
    saturday sunday mr mrs ms dr prof st mt sr jr no vol chapter section figure table page
    i ii iii iv v vi vii viii ix x
    """
)

# Common nouns too vague to be a concept on their own (they would connect everything to everything).
GENERIC_NOUNS = _word_set(
    """
    thing things way ways time times year years day days month months week weeks part parts number
    numbers lot lots kind kinds type types sort sorts form forms example examples case cases point
    points end use uses fact facts place places people person someone member members group groups
    name names term terms area areas level levels order result results reason reasons side sides
    world state states life period periods percent amount amounts line lines list item items
    information data value values question questions answer answers issue issues problem problems
    number total set sets version versions others many much
    """
)

# Titles dropped from the front of a name, so "Dr. Jane Smith" and "Jane Smith" share a key.
HONORIFICS = frozenset({"mr", "mrs", "ms", "mx", "dr", "prof", "sir", "dame", "hon"})

MONTHS_AND_DAYS = _word_set(
    """
    january february march april june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday
    saturday sunday
    """
)

# Last words of organisation and place names. "Theodore Roosevelt National Park" is also called
# "Theodore Roosevelt", "New York City" "New York": such names also give their leading words.
NAME_HEADS = _word_set(
    """
    university college school academy institute institution library museum gallery zoo garden gardens
    city town village county district province state region territory republic kingdom empire
    dynasty park airport station bridge tower hall center centre stadium arena theatre theater
    building palace castle cathedral church temple mosque abbey hospital street road avenue square
    highway river lake mountain mountains island islands bay sea ocean falls valley desert forest
    beach company corporation group records studios studio bank club team league cup championship
    championships olympics games war battle treaty act agreement conference division party council
    association society foundation federation union network channel magazine journal newspaper
    times news press publishing books army navy force forces department ministry office agency
    service court committee commission board orchestra band choir festival award awards prize
    international national global media entertainment pictures films systems technologies holdings
    partners labs motors airlines airways energy capital industries enterprises limited inc ltd
    """
)
# Words that open a name but are not a given name: "King Albert I" must not become "King I".
NAME_TITLES = _word_set(
    """
    king queen prince princess emperor empress pope saint st president general colonel captain
    lord lady duke duchess count countess baron sultan tsar czar archbishop bishop cardinal
    senator governor mayor judge justice
    """
)
ROMAN_NUMERALS = _word_set("i ii iii iv v vi vii viii ix x xi xii xiii xiv xv xvi")

# Abbreviations whose trailing dot does not end a sentence: honorifics, initials are handled apart.
ABBREVIATIONS = _word_set(
    """
    mr mrs ms dr prof st mt ft jr sr gen col lt sgt capt cpt rev hon gov sen rep pres inc ltd co corp
    bros vs etc no nos vol fig approx dept univ est ave blvd rd
    """
)

# Words whose "-ed" ending is not a past participle, so they may end a concept phrase.
ED_NOUNS = _word_set("need seed speed feed breed creed greed bleed shed bed red bred")
